package apt

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
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
	maxControlXZ   = 16 << 20 // control.tar.xz, compressed (it is buffered, see readXZ)
	maxWindow      = 64 << 20 // xz dictionary, zstd window: xz -9 and zstd -19 use at most this
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

// ReadDeb reads the control file of a .deb from r, which it reads as a
// stream (an upload still arriving), never seeking and never holding more
// than the control member. It reads the ar archive up to and including
// ./control inside control.tar[.gz|.xz|.zst] and returns; the caller reads
// (and hashes) the rest of r.
//
// It checks that the file is a Debian binary package (format 2.x) and that
// Package, Version and Architecture are present and well-formed (Debian
// Policy names, dpkg version syntax). Errors about the content wrap
// ErrInvalidPackage; an error returned by r itself is passed through
// (wrapped) instead, so that a broken connection is not blamed on the file.
func ReadDeb(r io.Reader) (*Control, error) {
	src := &errReader{r: r}
	c, err := readDeb(src)
	if src.err != nil {
		return nil, fmt.Errorf("read package: %w", src.err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	return c, nil
}

func readDeb(r io.Reader) (*Control, error) {
	ar, err := newARReader(r)
	if err != nil {
		return nil, err
	}
	if err := readDebianBinary(ar); err != nil {
		return nil, err
	}
	hdr, err := nextRealMember(ar)
	if err != nil {
		return nil, err
	}
	tarStream, closeTar, err := controlTarReader(hdr.name, ar)
	if err != nil {
		return nil, err
	}
	defer closeTar()
	data, err := readControlFile(tarStream)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hdr.name, err)
	}
	return parseControl(data)
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

// nextRealMember returns the member after debian-binary, skipping the
// "_"-prefixed members that dpkg reserves for extensions and ignores.
func nextRealMember(ar *arReader) (arHeader, error) {
	for {
		hdr, err := ar.next()
		if err == io.EOF {
			return arHeader{}, errors.New("no control.tar member")
		}
		if err != nil || !strings.HasPrefix(hdr.name, "_") {
			return hdr, err
		}
	}
}

// controlTarReader returns the decompressed control.tar stream, capped at
// maxControlTar, and a function that releases the decompressor.
func controlTarReader(name string, ar *arReader) (io.Reader, func(), error) {
	var (
		dec     io.Reader
		release = func() {}
	)
	switch name {
	case "control.tar":
		dec = ar
	case "control.tar.gz":
		zr, err := gzip.NewReader(ar)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, truncatedOr(err))
		}
		dec = zr
	case "control.tar.xz":
		xr, err := readXZ(ar)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		dec = xr
	case "control.tar.zst":
		zr, err := zstd.NewReader(ar,
			zstd.WithDecoderConcurrency(1), // no goroutines per upload
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxWindow),
			zstd.WithDecoderMaxMemory(maxWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		dec, release = zr, zr.Close
	default:
		switch {
		case strings.HasPrefix(name, "control.tar"):
			return nil, nil, fmt.Errorf("unsupported control member %q (want control.tar, control.tar.gz, control.tar.xz or control.tar.zst)", name)
		case strings.HasPrefix(name, "data.tar"):
			return nil, nil, fmt.Errorf("no control.tar member before %q", name)
		}
		return nil, nil, fmt.Errorf("unexpected member %q where control.tar was expected", truncate(name))
	}
	return &capReader{r: dec, left: maxControlTar}, release, nil
}

// readXZ decompresses control.tar.xz after checking the dictionary sizes
// its blocks declare: github.com/ulikunitz/xz allocates whatever a block
// header asks for (up to 4 GiB) before decoding a byte. The check needs the
// whole member, hence the buffering; control members are small.
func readXZ(r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxControlXZ+1))
	if err != nil {
		return nil, truncatedOr(err)
	}
	if len(b) > maxControlXZ {
		return nil, fmt.Errorf("compressed control member larger than %d MiB", maxControlXZ>>20)
	}
	if err := checkXZ(b, maxWindow); err != nil {
		return nil, err
	}
	return xz.NewReader(bytes.NewReader(b))
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
	if errors.Is(err, errControlTarTooBig) {
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
