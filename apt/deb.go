package apt

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// ErrInvalidPackage is wrapped by every ReadDeb error caused by the content
// of the file (as opposed to a failure of the reader it was given). The
// message after it says what is wrong in terms the uploader can act on.
var ErrInvalidPackage = errors.New("invalid package")

// Limits that keep a hostile upload from exhausting memory. Real packages
// are far below them: control files are a few KiB, and even control.tar of
// packages with 100 000 files (md5sums) stays around 10 MiB.
const (
	maxControlFile = 1 << 20  // ./control itself
	maxControlTar  = 64 << 20 // control.tar, decompressed
	// The xz dictionary and zstd window of control.tar: dpkg-deb compresses
	// it at its default level (xz -6: 8 MiB), as control members are small.
	maxControlWindow = 8 << 20
	// The same for data.tar, which xz -9 and zstd -19 compress with up to
	// 64 MiB. Each upload in flight may hold one such dictionary; the API's
	// limit on concurrent uploads bounds the total.
	maxDataWindow = 64 << 20
)

// Control is what aptq learns from a .deb: the fields it indexes by and the
// control paragraph as uploaded, which becomes the package's Packages stanza.
type Control struct {
	Package      string
	Version      string
	Architecture string
	// Source is the source package name: the Source field without its
	// optional "(version)", or Package when there is no Source field. It
	// decides the package's pool directory.
	Source    string
	Paragraph Paragraph
}

// ReadDeb reads a .deb from r, which it reads as a stream (an upload still
// arriving) to its end, never seeking and never holding more than the
// control member and a decompressor's window. It returns the control file
// once it has read the whole archive: debian-binary, control.tar[.gz|.xz|.zst]
// and data.tar[.gz|.xz|.zst|.bz2|.lzma] in this order (deb(5)), each complete,
// with every tar header of data.tar read (and file contents skipped), and
// nothing after them but well-formed ar members, which deb(5) reserves for
// later formats.
//
// It checks that the file is a Debian binary package (format 2.x) and that
// Package, Version and Architecture are present and well-formed (Debian
// Policy names, dpkg version syntax). It fails as soon as the stream shows
// a problem, so that the caller can stop receiving the rest. Errors about the
// content wrap ErrInvalidPackage; an error returned by r itself is passed
// through (wrapped) instead, so that a broken connection is not blamed on
// the file.
func ReadDeb(r io.Reader) (*Control, error) {
	src := &errReader{r: r}
	c, err := readDeb(bufio.NewReaderSize(src, 64<<10), nil)
	if src.err != nil {
		return nil, fmt.Errorf("read package: %w", src.err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	return c, nil
}

// ReadControl reads only as far as the control file of a .deb and returns
// it, with the same checks of what it reads as ReadDeb. It is for a client
// that wants a package's fields before uploading it (the CLI checks that the
// release has its architecture); it says nothing about the rest of the
// archive, which the server checks with ReadDeb.
func ReadControl(r io.Reader) (*Control, error) {
	src := &errReader{r: r}
	ar, err := newARReader(bufio.NewReaderSize(src, 64<<10))
	var c *Control
	if err == nil {
		c, _, err = readControlPart(ar)
	}
	if src.err != nil {
		return nil, fmt.Errorf("read package: %w", src.err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	return c, nil
}

// readControlPart reads debian-binary and the control member, and returns
// the control file and the control member's name.
func readControlPart(ar *arReader) (*Control, string, error) {
	if err := readDebianBinary(ar); err != nil {
		return nil, "", err
	}
	hdr, err := nextRealMember(ar)
	if err == io.EOF {
		return nil, "", errors.New("no control.tar member")
	}
	if err != nil {
		return nil, "", err
	}
	c, err := readControlMember(hdr.name, ar)
	return c, hdr.name, err
}

// readDeb reads a whole .deb, passing each tar header of data.tar to
// visit, if not nil.
func readDeb(r io.Reader, visit func(*tar.Header) error) (*Control, error) {
	ar, err := newARReader(r)
	if err != nil {
		return nil, err
	}
	c, control, err := readControlPart(ar)
	if err != nil {
		return nil, err
	}
	data, err := nextRealMember(ar)
	if err == io.EOF {
		return nil, fmt.Errorf("no data.tar member after %s", control)
	}
	if err != nil {
		return nil, err
	}
	if err := readDataMember(data.name, ar, visit); err != nil {
		return nil, err
	}
	if err := readTrailer(ar); err != nil {
		return nil, fmt.Errorf("after %s: %w", data.name, err)
	}
	return c, nil
}

// readDebianBinary checks the first member, which holds the format version.
func readDebianBinary(ar *arReader) error {
	hdr, err := ar.next()
	if err == io.EOF {
		return errors.New("empty ar archive (no debian-binary member)")
	}
	if err != nil {
		return err
	}
	if hdr.name != "debian-binary" {
		return fmt.Errorf("first member is %q, want \"debian-binary\"", truncate(hdr.name))
	}
	if hdr.size > 64 {
		return fmt.Errorf("debian-binary is %d bytes, want \"2.0\\n\"", hdr.size)
	}
	b, err := io.ReadAll(ar)
	if err != nil {
		return truncatedOr(err)
	}
	if !bytes.HasPrefix(b, []byte("2.")) || !bytes.HasSuffix(b, []byte("\n")) {
		return fmt.Errorf("unsupported package format %q in debian-binary (want 2.x)", truncate(string(b)))
	}
	return nil
}

// nextRealMember returns the next member, skipping the "_"-prefixed
// members that dpkg reserves for extensions and ignores, or io.EOF at the
// end of the archive.
func nextRealMember(ar *arReader) (arHeader, error) {
	for {
		hdr, err := ar.next()
		if err != nil || !strings.HasPrefix(hdr.name, "_") {
			return hdr, err
		}
	}
}

// readControlMember reads the control file from control.tar, named name.
func readControlMember(name string, ar *arReader) (*Control, error) {
	if !slices.Contains([]string{"control.tar", "control.tar.gz", "control.tar.xz", "control.tar.zst"}, name) {
		if strings.HasPrefix(name, "control.tar") {
			return nil, fmt.Errorf("unsupported control member %q (want control.tar, control.tar.gz, control.tar.xz or control.tar.zst)", name)
		}
		if strings.HasPrefix(name, "data.tar") {
			return nil, fmt.Errorf("no control.tar member before %q", name)
		}
		return nil, fmt.Errorf("unexpected member %q where control.tar was expected", truncate(name))
	}
	dec, release, err := decompressor(strings.TrimPrefix(name, "control.tar"), ar, maxControlWindow)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer release()
	data, err := readControlFile(&capReader{r: dec, left: maxControlTar})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return parseControl(data)
}

// readDataMember reads every tar header of data.tar, named name, skipping
// the files' contents, and then the rest of the decompressed stream, so that
// a truncated or corrupt member is found however it was compressed. Each
// header goes to visit, if not nil.
func readDataMember(name string, ar *arReader, visit func(*tar.Header) error) error {
	if !strings.HasPrefix(name, "data.tar") {
		return fmt.Errorf("unexpected member %q where data.tar was expected", truncate(name))
	}
	dec, release, err := decompressor(strings.TrimPrefix(name, "data.tar"), ar, maxDataWindow)
	if errors.Is(err, errUnsupportedCompression) {
		return fmt.Errorf("unsupported data member %q (want data.tar, data.tar.gz, data.tar.xz, data.tar.zst, data.tar.bz2 or data.tar.lzma)", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer release()
	tr := tar.NewReader(dec)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, decodeError(err))
		}
		if visit != nil {
			if err := visit(hdr); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	// Zero blocks after the end of the archive (tar pads to its record
	// size), and the compressor's own end and checksum.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return fmt.Errorf("%s: %w", name, decodeError(err))
	}
	return nil
}

// readTrailer reads the members after data.tar, which deb(5) says readers
// must ignore, up to the end of the archive.
func readTrailer(ar *arReader) error {
	for {
		if _, err := ar.next(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

var errUnsupportedCompression = errors.New("unsupported compression")

// decompressor returns the decompressed stream of a member whose name ends
// in ext ("", ".gz", ".xz", ".zst", ".bz2" or ".lzma"), whose decoder may
// hold at most window bytes of history, and a function that releases the
// decoder.
func decompressor(ext string, r io.Reader, window int64) (io.Reader, func(), error) {
	release := func() {}
	switch ext {
	case "":
		return r, release, nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, truncatedOr(err)
		}
		return zr, release, nil
	case ".xz":
		// The smallest DictCap, as the reader allocates the larger of it and
		// what the (guarded) block header declares.
		xr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(newXZGuard(r, window))
		if err != nil {
			return nil, nil, decodeError(err)
		}
		return xr, release, nil
	case ".zst":
		zr, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1), // no goroutines per upload
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(window)),
			zstd.WithDecoderMaxMemory(uint64(window)))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case ".bz2":
		return bzip2.NewReader(r), release, nil
	case ".lzma":
		lr, err := lzma.ReaderConfig{DictCap: int(window)}.NewReader(r)
		if err != nil {
			return nil, nil, decodeError(err)
		}
		return lr, release, nil
	}
	return nil, nil, errUnsupportedCompression
}

// readControlFile finds ./control in control.tar and returns its content.
func readControlFile(r io.Reader) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, errors.New("no ./control file in the archive")
		}
		if err != nil {
			return nil, decodeError(err)
		}
		if path.Clean(h.Name) != "control" {
			continue
		}
		if h.Typeflag != tar.TypeReg { // the reader maps the old '\x00' type to TypeReg
			return nil, errors.New("./control is not a regular file")
		}
		if h.Size > maxControlFile {
			return nil, fmt.Errorf("./control is %d bytes, more than the %d KiB limit", h.Size, maxControlFile>>10)
		}
		b := make([]byte, h.Size)
		if _, err := io.ReadFull(tr, b); err != nil {
			return nil, decodeError(err)
		}
		return b, nil
	}
}

// decodeError turns decompression and tar errors into messages for users.
func decodeError(err error) error {
	var limit limitError
	if errors.Is(err, errControlTarTooBig) || errors.Is(err, errXZ) || errors.As(err, &limit) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, errTruncated) {
		return errTruncated
	}
	return fmt.Errorf("corrupt archive: %v", err)
}

// parseControl validates the control file and extracts the indexed fields.
func parseControl(data []byte) (*Control, error) {
	p, err := ParseParagraph(data)
	if err != nil {
		return nil, fmt.Errorf("control file: %w", err)
	}
	c := &Control{
		Package:      p.Get("Package"),
		Version:      p.Get("Version"),
		Architecture: p.Get("Architecture"),
		Paragraph:    p,
	}
	for _, f := range []struct{ name, value string }{
		{"Package", c.Package}, {"Version", c.Version}, {"Architecture", c.Architecture},
	} {
		if f.value == "" {
			return nil, fmt.Errorf("control file has no %s field", f.name)
		}
	}
	if err := checkControlLengths(p); err != nil {
		return nil, fmt.Errorf("control file: %w", err)
	}
	if err := checkPackageName(c.Package); err != nil {
		return nil, fmt.Errorf("bad Package field: %w", err)
	}
	if _, err := parseVersion(c.Version); err != nil {
		return nil, fmt.Errorf("bad Version field %q: %w", truncate(c.Version), err)
	}
	if err := checkArchitecture(c.Architecture); err != nil {
		return nil, fmt.Errorf("bad Architecture field: %w", err)
	}
	c.Source = c.Package
	if s := p.Get("Source"); s != "" {
		if c.Source, err = sourceName(s); err != nil {
			return nil, fmt.Errorf("bad Source field: %w", err)
		}
	}
	return c, nil
}

// limitError reports content past one of the limits that bound memory.
type limitError string

func (e limitError) Error() string { return string(e) }

// errControlTarTooBig stops decompression bombs.
var errControlTarTooBig = fmt.Errorf("control archive larger than %d MiB uncompressed", maxControlTar>>20)

// capReader fails, rather than silently stopping, once left bytes are read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errControlTarTooBig
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// errReader remembers the first error of the underlying reader other than
// io.EOF, so that ReadDeb can tell a failing upload from a bad file.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
