package apt

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

const goodControl = "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nDescription: hi\n"

func TestReadDebErrors(t *testing.T) {
	t.Parallel()
	good := debtest.Build(t, debtest.Options{})
	controlTarGz := func(control string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(tarFile(t, "./control", control))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	withControl := func(control string) []byte {
		return debtest.Build(t, debtest.Options{Control: []byte(control)})
	}
	binary20 := member{"debian-binary", []byte("2.0\n")}
	tests := []struct {
		name string
		deb  []byte
		want string
	}{
		{"empty", nil, `not a Debian binary package (no "!<arch>" ar header)`},
		{"garbage", []byte("this is not a package at all, just some text"), "not a Debian binary package"},
		{"rpm", []byte("\xed\xab\xee\xdb\x03\x00\x00\x00"), "not a Debian binary package"},
		{"only ar magic", []byte("!<arch>\n"), "empty ar archive"},
		{"truncated ar header", []byte("!<arch>\ndebian-binary   0     "), "file is truncated"},
		{"bad header terminator", []byte("!<arch>\n" + strings.Repeat(" ", 58) + "xx"), "corrupt ar member header (bad terminator)"},
		{"non-numeric size", []byte("!<arch>\ndebian-binary   0           0     0     100644  4x        `\n2.0\n"), `corrupt ar member header (size "4x")`},
		{"negative size", []byte("!<arch>\ndebian-binary   0           0     0     100644  -4        `\n2.0\n"), `corrupt ar member header (size "-4")`},
		{"first member not debian-binary", arFile(member{"control.tar.gz", controlTarGz(goodControl)}), `first member is "control.tar.gz", want "debian-binary"`},
		{"format 3.0", arFile(member{"debian-binary", []byte("3.0\n")}), `unsupported package format "3.0\n"`},
		{"debian-binary too big", arFile(member{"debian-binary", bytes.Repeat([]byte("2"), 100)}), "debian-binary is 100 bytes"},
		{"truncated debian-binary", []byte(string(arFile(binary20))[:70]), "file is truncated"},
		{"no control member", arFile(binary20), "no control.tar member"},
		{"data before control", arFile(binary20, member{"data.tar.gz", nil}), `no control.tar member before "data.tar.gz"`},
		{"unsupported compression", arFile(binary20, member{"control.tar.bz2", []byte("BZh9")}), `unsupported control member "control.tar.bz2"`},
		{"unexpected member", arFile(binary20, member{"something", nil}), `unexpected member "something"`},
		{"gzip garbage", arFile(binary20, member{"control.tar.gz", []byte("this is not gzip data")}), "control.tar.gz: gzip: invalid header"},
		{"xz garbage", arFile(binary20, member{"control.tar.xz", []byte("not xz")}), "control.tar.xz: corrupt xz data"},
		{"zstd garbage", arFile(binary20, member{"control.tar.zst", []byte("not zstd at all")}), "control.tar.zst: corrupt archive"},
		{"tar garbage", arFile(binary20, member{"control.tar", bytes.Repeat([]byte("x"), 1024)}), "control.tar: corrupt archive"},
		{"truncated control member", good[:len(good)/3], "file is truncated"},
		{"no ./control", arFile(binary20, member{"control.tar", tarFile(t, "./md5sums", "x")}), "control.tar: no ./control file in the archive"},
		{"control not regular", arFile(binary20, member{"control.tar", symlinkTar(t)}), "./control is not a regular file"},
		{"control too large", withControl(goodControl + "X-Big: " + strings.Repeat("x", 1<<20) + "\n"), "./control is 1048650 bytes, more than the 1024 KiB limit"},
		{"malformed control", withControl("Package hello\n"), `control file: malformed control paragraph: line 1: missing ':'`},
		{"missing Package", withControl("Version: 1.0\nArchitecture: amd64\n"), "control file has no Package field"},
		{"missing Version", withControl("Package: hello\nArchitecture: amd64\n"), "control file has no Version field"},
		{"missing Architecture", withControl("Package: hello\nVersion: 1.0\n"), "control file has no Architecture field"},
		{"uppercase name", withControl("Package: Hello\nVersion: 1.0\nArchitecture: amd64\n"), `bad Package field: "Hello" must start with a lowercase letter or digit`},
		{"name with slash", withControl("Package: he/llo\nVersion: 1.0\nArchitecture: amd64\n"), `may contain only lowercase letters, digits and "+-."`},
		{"one-letter name", withControl("Package: h\nVersion: 1.0\nArchitecture: amd64\n"), `bad Package field: "h" is too short`},
		{"bad version", withControl("Package: hello\nVersion: latest\nArchitecture: amd64\n"), `bad Version field "latest": upstream version must start with a digit`},
		{"bad architecture", withControl("Package: hello\nVersion: 1.0\nArchitecture: AMD64\n"), `bad Architecture field: "AMD64" may contain only`},
		{"bad source", withControl(goodControl + "Source: Hello\n"), `bad Source field: "Hello" must start with a lowercase letter`},
		{"bad source version", withControl(goodControl + "Source: hello (x)\n"), `bad Source field: version in "hello (x)"`},
		{"multi-line version", withControl("Package: hello\nVersion: 1.0\n 2\nArchitecture: amd64\n"), "Version"},
		{"xz dictionary too large", arFile(binary20, member{"control.tar.xz", xzWithDict(t, tarFile(t, "./control", goodControl), 40)}), "control.tar.xz: xz dictionary of 4095 MiB is larger than the 8 MiB limit"},
		{"decompression bomb", arFile(binary20, member{"control.tar.gz", gzipBomb(t)}), "control archive larger than 64 MiB uncompressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ReadDeb(bytes.NewReader(tt.deb))
			require.ErrorIs(t, err, ErrInvalidPackage)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, c)
		})
	}
}

// symlinkTar returns a control.tar whose ./control is a symbolic link.
func symlinkTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./control", Linkname: "/etc/passwd"}))
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// xzWithDict compresses data with xz and then rewrites the dictionary size
// code of the first block (and the block header's CRC32), as a hostile
// uploader could.
func xzWithDict(t *testing.T, data []byte, code byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	b := buf.Bytes()
	// Stream header (12 bytes), then the block header: size, flags (no
	// optional sizes from this encoder), filter 0x21, 1 property byte.
	const hdr = 12
	require.Equal(t, []byte{0x00, 0x21, 0x01}, b[hdr+1:hdr+4])
	b[hdr+4] = code
	size := (int(b[hdr]) + 1) * 4
	binary.LittleEndian.PutUint32(b[hdr+size-4:], crc32.ChecksumIEEE(b[hdr:hdr+size-4]))
	return b
}

// gzipBomb returns a small control.tar.gz that expands past maxControlTar.
func gzipBomb(t *testing.T) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(t, err)
	tw := tar.NewWriter(zw)
	const size = maxControlTar + 1<<20
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./md5sums", Mode: 0o644, Size: size}))
	_, err = io.CopyN(tw, zeroReader{}, size)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadDebDebtest(t *testing.T) {
	t.Parallel()
	for _, compression := range []string{"gz", "xz", "zst", "none"} {
		t.Run(compression, func(t *testing.T) {
			t.Parallel()
			deb := debtest.Build(t, debtest.Options{
				Package: "libhello1", Version: "1:2.0+dfsg-1~bpo12+1", Architecture: "arm64",
				Source: "libhello (2.0+dfsg-1)", Depends: "libc6 (>= 2.36)",
				Description: "greets\nlong text\n\nmore", Compression: compression,
			})
			c, err := ReadDeb(bytes.NewReader(deb))
			require.NoError(t, err)
			require.Equal(t, "libhello1", c.Package)
			require.Equal(t, "1:2.0+dfsg-1~bpo12+1", c.Version)
			require.Equal(t, "arm64", c.Architecture)
			require.Equal(t, "libhello", c.Source)
			require.Equal(t, "libc6 (>= 2.36)", c.Paragraph.Get("Depends"))
			require.Equal(t, "greets\n long text\n .\n more", c.Paragraph.Get("Description"))
		})
	}
}

// TestReadDebDpkgDeb reads packages built by dpkg-deb itself, whose
// control.tar compression follows -Z (uniform compression, dpkg ≥ 1.19).
func TestReadDebDpkgDeb(t *testing.T) {
	t.Parallel()
	dpkgDeb := needTool(t, "dpkg-deb")
	control := "Package: hello-dpkg\nSource: hello\nVersion: 1:2.0-1\nArchitecture: all\n" +
		"Maintainer: T <t@example.org>\nDepends: libc6\nDescription: built by dpkg-deb\n long\n .\n text\n"
	for _, tt := range []struct{ z, member, level string }{
		{"gzip", "control.tar.gz", "6"}, {"xz", "control.tar.xz", "6"}, {"zstd", "control.tar.zst", "3"}, {"none", "control.tar ", "0"},
		// xz -9 declares a 64 MiB dictionary, for control.tar too.
		{"xz", "control.tar.xz", "9"},
	} {
		t.Run(tt.z+tt.level, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, dir, "root/DEBIAN/control", []byte(control))
			writeFile(t, dir, "root/usr/share/doc/hello-dpkg/README", []byte("hi\n"))
			out := filepath.Join(dir, "out.deb")
			run(t, dir, nil, dpkgDeb, "--root-owner-group", "-Z"+tt.z, "-z"+tt.level, "--build", "root", out)
			deb, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Contains(t, string(deb[:200]), tt.member)
			c, err := ReadDeb(bytes.NewReader(deb))
			require.NoError(t, err)
			want, err := ParseParagraph([]byte(control))
			require.NoError(t, err)
			require.Equal(t, &Control{Package: "hello-dpkg", Version: "1:2.0-1", Architecture: "all", Source: "hello", Paragraph: want}, c)
		})
	}
}

// TestReadDebStreams checks that ReadDeb reads a large package to its end
// as a stream, without buffering the data member.
func TestReadDebStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	var size countingWriter
	go func() {
		pw.CloseWithError(debtest.WriteDeb(io.MultiWriter(pw, &size), debtest.Options{Package: "big", DataSize: 256 << 20}))
	}()
	counted := &countingReader{r: pr}
	c, err := ReadDeb(counted)
	require.NoError(t, err)
	require.Equal(t, "big", c.Package)
	require.Equal(t, size.n, counted.n)
	require.Greater(t, counted.n, int64(256<<20))
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadDebReaderError checks that a failing upload is reported as such,
// not as an invalid package.
func TestReadDebReaderError(t *testing.T) {
	t.Parallel()
	deb := debtest.Build(t, debtest.Options{})
	errBoom := errors.New("connection reset")
	for _, n := range []int{0, 5, 70, 200} {
		r := io.MultiReader(bytes.NewReader(deb[:n]), iotestErrReader{errBoom})
		_, err := ReadDeb(r)
		require.ErrorIs(t, err, errBoom, "after %d bytes", n)
		require.NotErrorIs(t, err, ErrInvalidPackage, "after %d bytes", n)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestXZGuard(t *testing.T) {
	t.Parallel()
	var real []byte
	if xzCmd, err := exec.LookPath("xz"); err == nil {
		real = run(t, "", nil, "sh", "-c", "printf 'hello hello hello' | "+xzCmd+" -9e --check=sha256; printf 'more' | "+xzCmd+" -1 --check=none")
	}
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"go encoder", xzWithDict(t, []byte("hello"), 22), true},
		{"go encoder, empty", xzWithDict(t, nil, 22), true},
		{"64 MiB dictionary", xzWithDict(t, []byte("hello"), 28), true},
		{"96 MiB dictionary", xzWithDict(t, []byte("hello"), 29), false},
		{"xz tool, two streams, padding", append(real, 0, 0, 0, 0), real != nil},
		{"empty", nil, false},
		{"truncated", xzWithDict(t, []byte("hello"), 22)[:30], false},
		{"bad block header CRC", xzWithDict(t, []byte("hello"), 22)[:13], false},
	} {
		if tt.name == "bad block header CRC" {
			tt.data = xzWithDict(t, []byte("hello"), 22)
			tt.data[15] ^= 1
		}
		out, err := io.ReadAll(newXZGuard(bytes.NewReader(tt.data), maxDataWindow))
		if !tt.ok {
			require.Error(t, err, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.data, out, tt.name)
	}
}
