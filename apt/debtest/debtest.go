// Package debtest builds valid Debian binary packages (.deb) in pure Go, for
// tests across aptq that need real packages: uploads, indexes, apt clients.
//
//	deb := debtest.Build(t, debtest.Options{Package: "hello", Version: "1.0-1"})
//
// The packages are accepted by dpkg-deb, dpkg and apt: an ar archive with
// debian-binary, control.tar[.gz|.xz|.zst] holding ./control, and data.tar.gz
// holding /usr/share/doc/<package>/README. Output is deterministic: the same
// Options give the same bytes, hence the same SHA-256.
//
// For large-file tests, WriteDeb streams a package of any size (DataSize)
// without holding it in memory.
package debtest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Field is an extra control field.
type Field struct {
	Name, Value string
}

// Options describe the package to build. Zero values get defaults.
type Options struct {
	Package      string // default "hello"
	Version      string // default "1.0-1"
	Architecture string // default "amd64"
	// Source, if set, is written as the Source field: "name" or
	// "name (version)".
	Source  string
	Depends string
	// Description is the short description, optionally followed by lines of
	// long description separated by "\n"; the leading space of continuation
	// lines and " ." for empty lines are added. Default "debtest package".
	Description string
	// Extra fields are appended to the control file in order.
	Extra []Field
	// Control, if not nil, is used verbatim as ./control, and the fields
	// above are ignored: for tests of invalid packages.
	Control []byte
	// Compression of control.tar: "gz" (default), "xz", "zst" or "none".
	Compression string
	// DataSize, if positive, adds /usr/share/<package>/payload with this
	// many deterministic pseudo-random bytes. The data member is then an
	// uncompressed data.tar (dpkg accepts it) so that it can be streamed:
	// a compressed member's size would have to be known before writing it.
	DataSize int64
	// Files are more members of data.tar, written as named (e.g.
	// "./usr/bin/hello"), each a small file holding its own name.
	Files []string
}

// mtime is the modification time of every file and member, for
// reproducible output.
var mtime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Build returns the .deb described by opts, failing tb on error.
func Build(tb testing.TB, opts Options) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteDeb(&buf, opts); err != nil {
		tb.Fatalf("debtest: %v", err)
	}
	return buf.Bytes()
}

// WriteDeb writes the .deb described by opts to w. Only the payload of
// DataSize bytes is streamed; the rest is small.
func WriteDeb(w io.Writer, opts Options) error {
	opts = withDefaults(opts)
	control := opts.Control
	if control == nil {
		control = controlFile(opts)
	}
	controlName, controlTar, err := controlMember(control, opts.Compression)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "!<arch>\n"); err != nil {
		return err
	}
	if err := writeMember(w, "debian-binary", []byte("2.0\n")); err != nil {
		return err
	}
	if err := writeMember(w, controlName, controlTar); err != nil {
		return err
	}
	if opts.DataSize > 0 {
		return writeStreamedData(w, opts)
	}
	data, err := dataTarGz(opts)
	if err != nil {
		return err
	}
	return writeMember(w, "data.tar.gz", data)
}

func withDefaults(o Options) Options {
	if o.Package == "" {
		o.Package = "hello"
	}
	if o.Version == "" {
		o.Version = "1.0-1"
	}
	if o.Architecture == "" {
		o.Architecture = "amd64"
	}
	if o.Description == "" {
		o.Description = "debtest package"
	}
	if o.Compression == "" {
		o.Compression = "gz"
	}
	return o
}

func readme(o Options) []byte {
	return fmt.Appendf(nil, "%s %s\nBuilt by aptq's debtest.\n", o.Package, o.Version)
}

func controlFile(o Options) []byte {
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, value)
		}
	}
	field("Package", o.Package)
	field("Source", o.Source)
	field("Version", o.Version)
	field("Architecture", o.Architecture)
	field("Maintainer", "aptq tests <tests@aptq.invalid>")
	field("Installed-Size", fmt.Sprint((int64(len(readme(o)))+o.DataSize+1023)/1024))
	field("Depends", o.Depends)
	for _, f := range o.Extra {
		field(f.Name, f.Value)
	}
	field("Section", "misc")
	field("Priority", "optional")
	lines := strings.Split(o.Description, "\n")
	for i := 1; i < len(lines); i++ {
		switch {
		case strings.TrimSpace(lines[i]) == "":
			lines[i] = " ."
		case lines[i][0] != ' ':
			lines[i] = " " + lines[i]
		}
	}
	field("Description", strings.Join(lines, "\n"))
	return []byte(b.String())
}

// controlMember returns the name and content of the control.tar member.
func controlMember(control []byte, compression string) (string, []byte, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := writeDir(tw, "./"); err != nil {
		return "", nil, err
	}
	if err := writeFile(tw, "./control", control); err != nil {
		return "", nil, err
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}
	if compression == "none" {
		return "control.tar", tarBuf.Bytes(), nil
	}
	var (
		out bytes.Buffer
		zw  io.WriteCloser
		err error
	)
	switch compression {
	case "gz":
		gw := gzip.NewWriter(&out)
		gw.ModTime = mtime // the zero default is written as a bogus date
		zw = gw
	case "xz":
		zw, err = xz.NewWriter(&out)
	case "zst":
		zw, err = zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	default:
		return "", nil, fmt.Errorf("unknown control.tar compression %q (want gz, xz, zst or none)", compression)
	}
	if err != nil {
		return "", nil, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return "", nil, err
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return "control.tar." + compression, out.Bytes(), nil
}

// dataPrefix writes the directories and README of the data archive.
func dataPrefix(tw *tar.Writer, o Options) error {
	for _, dir := range []string{"./", "./usr/", "./usr/share/", "./usr/share/doc/", "./usr/share/doc/" + o.Package + "/"} {
		if err := writeDir(tw, dir); err != nil {
			return err
		}
	}
	if err := writeFile(tw, "./usr/share/doc/"+o.Package+"/README", readme(o)); err != nil {
		return err
	}
	for _, name := range o.Files {
		hdr := fileHeader(name, int64(len(name)))
		hdr.Format = tar.FormatUnknown // PAX when the name is too long for ustar
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, name); err != nil {
			return err
		}
	}
	return nil
}

func dataTarGz(o Options) ([]byte, error) {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.ModTime = mtime // the zero default is written as a bogus date
	tw := tar.NewWriter(zw)
	if err := dataPrefix(tw, o); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeStreamedData writes an uncompressed data.tar member whose payload
// comes from a seeded ChaCha8 generator. The ar header needs the member size
// up front; it is computed from the tar layout and checked at the end.
func writeStreamedData(w io.Writer, o Options) error {
	var prefix bytes.Buffer
	tw := tar.NewWriter(&prefix)
	if err := dataPrefix(tw, o); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	payloadDir := "./usr/share/" + o.Package + "/"
	// prefix, payload directory header, payload header, payload padded to
	// 512-byte blocks, two zero blocks ending the archive.
	size := int64(prefix.Len()) + 512 + 512 + (o.DataSize+511)/512*512 + 1024
	if err := writeARHeader(w, "data.tar", size); err != nil {
		return err
	}
	cw := &countingWriter{w: w}
	tw = tar.NewWriter(cw)
	if err := dataPrefix(tw, o); err != nil {
		return err
	}
	if err := writeDir(tw, payloadDir); err != nil {
		return err
	}
	hdr := fileHeader(payloadDir+"payload", o.DataSize)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	seed := sha256.Sum256([]byte(o.Package + "_" + o.Version))
	if _, err := io.CopyN(tw, rand.NewChaCha8(seed), o.DataSize); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if cw.n != size {
		return fmt.Errorf("data.tar is %d bytes, expected %d (package name too long for a plain ustar header?)", cw.n, size)
	}
	if size%2 == 1 {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mtime,
		Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
	}
}

func writeDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: mtime,
		Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
	})
}

func writeFile(tw *tar.Writer, name string, content []byte) error {
	if err := tw.WriteHeader(fileHeader(name, int64(len(content)))); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

// writeMember writes one ar member: header, content, padding to even size.
func writeMember(w io.Writer, name string, content []byte) error {
	if err := writeARHeader(w, name, int64(len(content))); err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return err
	}
	if len(content)%2 == 1 {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
}

// writeARHeader writes a 60-byte ar member header. The ar library in go.mod
// pads odd-sized writes rather than odd-sized members, which breaks
// streaming, so the format (a few lines of deb(5)) is written here.
func writeARHeader(w io.Writer, name string, size int64) error {
	if len(name) > 16 {
		return errors.New("ar member name longer than 16 bytes")
	}
	_, err := fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, mtime.Unix(), 0, 0, "100644", size)
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
