package apt

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/aptq/aptq/apt/debtest"
)

// debWithData builds a package with a good control.tar.gz followed by the
// given members.
func debWithData(t *testing.T, members ...member) []byte {
	var ctl bytes.Buffer
	zw := gzip.NewWriter(&ctl)
	_, err := zw.Write(tarFile(t, "./control", goodControl))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return arFile(append([]member{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl.Bytes()}}, members...)...)
}

// dataTar is a data.tar of two files, padded to tar's 10 KiB record size
// as GNU tar writes it.
func dataTar(t *testing.T) []byte {
	b := tarFile(t, "./usr/share/doc/hello/README", "hi\n", "./usr/bin/hello", strings.Repeat("x", 3000))
	return append(b, make([]byte, 10240-len(b)%10240)...)
}

func compress(t *testing.T, kind string, data []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "gz":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zst":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case "lzma":
		w, err = lzma.NewWriter(&buf)
	}
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestReadDebDataMembers(t *testing.T) {
	t.Parallel()
	data := dataTar(t)
	tests := []struct {
		name string
		deb  []byte
	}{
		{"data.tar", debWithData(t, member{"data.tar", data})},
		{"data.tar.gz", debWithData(t, member{"data.tar.gz", compress(t, "gz", data)})},
		{"data.tar.xz", debWithData(t, member{"data.tar.xz", compress(t, "xz", data)})},
		{"data.tar.xz, 64 MiB dictionary", debWithData(t, member{"data.tar.xz", xzWithDict(t, data, 28)})},
		{"data.tar.zst", debWithData(t, member{"data.tar.zst", compress(t, "zst", data)})},
		{"data.tar.lzma", debWithData(t, member{"data.tar.lzma", compress(t, "lzma", data)})},
		{"empty data.tar", debWithData(t, member{"data.tar", tarFile(t)})},
		{"extension members", debWithData(t, member{"_ext", []byte("x")}, member{"data.tar", data}, member{"future", []byte("y")})},
	}
	if bz := lookTool("bzip2"); bz != "" {
		dir := t.TempDir()
		writeFile(t, dir, "data.tar", data)
		run(t, dir, nil, bz, "data.tar")
		b, err := os.ReadFile(filepath.Join(dir, "data.tar.bz2"))
		require.NoError(t, err)
		tests = append(tests, struct {
			name string
			deb  []byte
		}{"data.tar.bz2", debWithData(t, member{"data.tar.bz2", b})})
	}
	for _, tt := range tests {
		c, err := ReadDeb(bytes.NewReader(tt.deb))
		require.NoError(t, err, tt.name)
		require.Equal(t, "hello", c.Package, tt.name)
	}
}

// TestReadDebIncomplete replays packages that dpkg-deb rejects: a missing,
// truncated or corrupt data member, or garbage after it.
func TestReadDebIncomplete(t *testing.T) {
	t.Parallel()
	data := dataTar(t)
	good := debtest.Build(t, debtest.Options{})
	gz := compress(t, "gz", data)
	corruptGz := bytes.Clone(gz)
	corruptGz[len(corruptGz)/2] ^= 0xff
	badHeader := bytes.Clone(data)
	copy(badHeader[148:156], "garbage!") // the checksum field of the first header
	tests := []struct {
		name string
		deb  []byte
		want string
	}{
		{"no data member", debWithData(t), "no data.tar member after control.tar.gz"},
		{"only extension members after control", debWithData(t, member{"_ext", nil}), "no data.tar member after control.tar.gz"},
		{"control twice", debWithData(t, member{"control.tar.gz", nil}), `unexpected member "control.tar.gz" where data.tar was expected`},
		{"unsupported data compression", debWithData(t, member{"data.tar.lz4", []byte("x")}), `unsupported data member "data.tar.lz4"`},
		{"cut inside data.tar.gz", good[:len(good)-30], "file is truncated"},
		{"data.tar cut short", debWithData(t, member{"data.tar", data[:1536]}), "data.tar: file is truncated"},
		{"corrupt tar header", debWithData(t, member{"data.tar", badHeader}), "data.tar: corrupt archive"},
		{"tar garbage", debWithData(t, member{"data.tar", bytes.Repeat([]byte("x"), 1024)}), "data.tar: corrupt archive"},
		{"corrupt gzip data", debWithData(t, member{"data.tar.gz", corruptGz}), "data.tar.gz: "},
		{"gzip garbage", debWithData(t, member{"data.tar.gz", []byte("this is not gzip data")}), "data.tar.gz: gzip: invalid header"},
		{"trailing garbage", append(bytes.Clone(good), strings.Repeat("garbage ", 10)...), "after data.tar.gz: corrupt ar member header"},
		{"trailing bytes", append(bytes.Clone(good), "xx"...), "after data.tar.gz: file is truncated"},
		{"data xz dictionary too large", debWithData(t, member{"data.tar.xz", xzWithDict(t, data, 30)}), "data.tar.xz: xz dictionary of 128 MiB is larger than the 64 MiB limit"},
		{"control xz dictionary too large", arFile(member{"debian-binary", []byte("2.0\n")},
			member{"control.tar.xz", xzWithDict(t, tarFile(t, "./control", goodControl), 24)}, member{"data.tar", data}),
			"control.tar.xz: xz dictionary of 16 MiB is larger than the 8 MiB limit"},
	}
	for _, tt := range tests {
		c, err := ReadDeb(bytes.NewReader(tt.deb))
		require.ErrorIs(t, err, ErrInvalidPackage, tt.name)
		require.ErrorContains(t, err, tt.want, tt.name)
		require.Nil(t, c, tt.name)
	}
}

// TestReadDebEveryCut checks that a package cut off anywhere is refused.
func TestReadDebEveryCut(t *testing.T) {
	t.Parallel()
	for _, compression := range []string{"gz", "xz", "zst", "none"} {
		deb := debtest.Build(t, debtest.Options{Compression: compression})
		_, err := ReadDeb(bytes.NewReader(deb))
		require.NoError(t, err)
		for n := range len(deb) {
			_, err := ReadDeb(bytes.NewReader(deb[:n]))
			require.ErrorIs(t, err, ErrInvalidPackage, "%s cut at %d of %d", compression, n, len(deb))
		}
	}
}

// TestXZGuardFitsDictionary checks that a block whose header states its
// size gets a dictionary of that size, not the one it declares: dpkg-deb -z9
// declares 64 MiB for a control.tar of a few KiB.
func TestXZGuardFitsDictionary(t *testing.T) {
	t.Parallel()
	data := []byte(strings.Repeat("hello ", 1000))
	b := xzWithSizes(t, data, 40) // 4 GiB
	g := newXZGuard(bytes.NewReader(b), maxControlWindow)
	out, err := io.ReadAll(g)
	require.NoError(t, err)
	hdr := out[12 : 12+(int(out[12])+1)*4]
	props := hdr[bytes.Index(hdr, []byte{0x21, 0x01})+2]
	require.Equal(t, int64(6<<10), xzDictSize(props)) // the smallest that holds 6000 bytes
	xr, err := xz.NewReader(bytes.NewReader(out))
	require.NoError(t, err)
	got, err := io.ReadAll(xr)
	require.NoError(t, err)
	require.Equal(t, data, got)

	// A block that outgrows its stated size cannot use the smaller dictionary.
	lying := xzWithSizes(t, append(data, data...), 40)
	_, err = io.ReadAll(mustXZ(t, newXZGuard(bytes.NewReader(setUsize(t, lying, len(data), 40)), maxControlWindow)))
	require.Error(t, err)
}

// xzWithSizes compresses data and rewrites the first block header as
// liblzma's multi-threaded encoder (and so dpkg-deb) writes it: with the
// uncompressed size stated, and dictionary code code.
func xzWithSizes(t *testing.T, data []byte, code byte) []byte {
	return setUsize(t, xzWithDict(t, data, code), len(data), code)
}

// setUsize rewrites the first block header to state n as the uncompressed
// size, with dictionary code code.
func setUsize(t *testing.T, b []byte, n int, code byte) []byte {
	const hdr = 12
	size := (int(b[hdr]) + 1) * 4
	h := []byte{0, 0x80} // size byte (set below), flags: uncompressed size present
	h = binary.AppendUvarint(h, uint64(n))
	h = append(h, 0x21, 0x01, code)
	for (len(h)+4)%4 != 0 {
		h = append(h, 0)
	}
	h[0] = byte((len(h)+4)/4 - 1)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	// The index records the unpadded block size: only a header of the same
	// size keeps it valid.
	require.Equal(t, size, len(h), "block header size")
	out := bytes.Clone(b)
	copy(out[hdr:], h)
	return out
}

func mustXZ(t *testing.T, r io.Reader) io.Reader {
	xr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(r)
	require.NoError(t, err)
	return xr
}

func lookTool(name string) string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// TestXZGuardWithholdsRejectedHeader checks that the decoder never sees a
// block header the guard refused: it would allocate the dictionary it
// declares (64 MiB here) before failing.
func TestXZGuardWithholdsRejectedHeader(t *testing.T) {
	t.Parallel()
	b := xzWithDict(t, []byte("hello"), 28)
	g := newXZGuard(bytes.NewReader(b), maxControlWindow)
	out, err := io.ReadAll(g)
	require.ErrorContains(t, err, "xz dictionary of 64 MiB is larger than the 8 MiB limit")
	require.Equal(t, b[:12], out, "only the stream header is handed on")
}
