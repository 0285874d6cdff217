package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
)

// contentsPkgs returns n packages of files files each, spread over the
// index as real ones are (usr/bin, usr/lib, usr/share), from seed on.
func contentsPkgs(seed, n, files int) []apt.ContentsPackage {
	pkgs := make([]apt.ContentsPackage, n)
	for i := range pkgs {
		name := fmt.Sprintf("pkg%05d", seed+i)
		p := apt.ContentsPackage{Key: apt.PackageKey{Name: name, Version: "1.0-1", Arch: "amd64"}, Section: "utils"}
		p.Files = append(p.Files, "usr/bin/"+name, "usr/share/doc/"+name+"/copyright")
		for j := range files - 2 {
			p.Files = append(p.Files, fmt.Sprintf("usr/lib/x86_64-linux-gnu/%s/module%02d.so", name, j))
		}
		slices.Sort(p.Files)
		pkgs[i] = p
	}
	return pkgs
}

// likeFixture is a previous Contents-amd64.gz, traced, and the next one
// after a round that adds a package and removes another (their files in
// three places of the index, none at its end).
type likeFixture struct {
	prevData, prevPlain, newData []byte
	trace                        *gzipTrace
}

func newLikeFixture(tb testing.TB, n, files int) likeFixture {
	tb.Helper()
	pkgs := contentsPkgs(0, n+1, files)
	added := pkgs[n/3]
	prev, err := apt.NewContents("main", "amd64", slices.Delete(slices.Clone(pkgs), n/3, n/3+1))
	require.NoError(tb, err)
	next, err := prev.Apply([]apt.ContentsPackage{added}, []apt.PackageKey{pkgs[2*n/3].Key})
	require.NoError(tb, err)
	prevData := prev.File().Data
	plain, trace, err := traceGzip(prevData, 1<<30, 0)
	require.NoError(tb, err)
	require.NotNil(tb, trace, "apt writes Contents as the fast path reads them")
	return likeFixture{prevData: prevData, prevPlain: plain, newData: next.File().Data, trace: trace}
}

// gunzipped is what a gzip reader (reading every member, as apt does)
// makes of data, up to limit bytes.
func gunzipped(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err == nil && int64(len(out)) > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	return out, err
}

// requireLikeReader: what gunzipLike makes of data is what a gzip reader
// does, or both fail. It returns gunzipLike's text.
func requireLikeReader(t *testing.T, fx likeFixture, data []byte) (likeText, error) {
	t.Helper()
	const limit = 1 << 26
	got, err := gunzipLike(data, fx.prevPlain, fx.trace, limit, 0)
	want, wantErr := gunzipped(data, limit)
	if wantErr != nil {
		require.Error(t, err, "a gzip reader refuses it: %v", wantErr)
		return got, err
	}
	require.NoError(t, err)
	require.Equal(t, len(want), got.size)
	require.True(t, bytes.Equal(want, got.slice(0, got.size)), "the text differs from a gzip reader's")
	return got, nil
}

// decoded is how many bytes of t were decoded rather than copied.
func decoded(t likeText) int {
	n := 0
	for _, p := range t.parts {
		if p.at < 0 {
			n += len(p.data)
		}
	}
	return n
}

// TestGunzipLike: the new Contents.gz of a round that adds a package (its
// files in three places of the index) and removes one is decoded only
// around the chunks that changed, and the text is a gzip reader's. A byte
// changed anywhere (where it is decoded, in a part copied from the
// previous text: at its start, between changed chunks, at its end), bytes
// after the stream, a second member, another compressor, a header with a
// file name: each gives what a gzip reader gives, or is refused as it is.
func TestGunzipLike(t *testing.T) {
	t.Parallel()
	fx := newLikeFixture(t, 6000, 12)
	got, err := requireLikeReader(t, fx, fx.newData)
	require.NoError(t, err)
	require.Less(t, decoded(got), got.size/5, "decodes only around the changes")
	copied := 0
	for _, p := range got.parts {
		if p.at >= 0 {
			copied++
		}
	}
	require.GreaterOrEqual(t, copied, 3, "rejoins the previous stream between the changed chunks too")

	stream, _ := deflateOf(fx.newData)
	shared, tail := commonPrefix(fx.trace.deflate, stream), commonSuffix(fx.trace.deflate, stream)
	for _, at := range []int{shared / 2, shared + 1, (shared + len(stream) - tail) / 2, len(stream) - tail/2, len(stream) - 3} {
		bad := bytes.Clone(fx.newData)
		bad[gzipHeaderSize+at] ^= 0x40
		_, err := requireLikeReader(t, fx, bad)
		require.Error(t, err, "byte %d of %d changed (shared %d, tail %d)", at, len(stream), shared, tail)
	}
	// The trailer changed: its CRC-32, its size.
	for _, at := range []int{8, 4} {
		bad := bytes.Clone(fx.newData)
		bad[len(bad)-at] ^= 1
		_, err := requireLikeReader(t, fx, bad)
		require.Error(t, err)
	}
	extra := append(bytes.Clone(fx.newData[:len(fx.newData)-8]), 0x00)
	_, err = requireLikeReader(t, fx, append(extra, fx.newData[len(fx.newData)-8:]...))
	require.Error(t, err)

	// Bytes after the final block, which a rejoin with the previous
	// stream before them must not hide.
	for _, n := range []int{1, 16, 4096} {
		_, err := decodeLike(append(bytes.Clone(stream), make([]byte, n)...), fx.trace, 1<<30)
		require.Error(t, err, "%d bytes after the stream", n)
	}
	// Another member after it: read whole, as apt reads it.
	member := gzipOf(t, []byte("usr/bin/sudo\tevil\n"))
	got, err = requireLikeReader(t, fx, append(bytes.Clone(fx.newData), member...))
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(got.slice(0, got.size), []byte("usr/bin/sudo\tevil\n")))

	// The same text by another compressor, or with a file name in the
	// header (not the fast path's plain header): decoded whole.
	text, err := gunzipped(fx.newData, 1<<26)
	require.NoError(t, err)
	var other bytes.Buffer
	zw, err := gzip.NewWriterLevel(&other, gzip.BestCompression)
	require.NoError(t, err)
	zw.Name = "Contents-amd64"
	_, err = zw.Write(text)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	_, err = requireLikeReader(t, fx, other.Bytes())
	require.NoError(t, err)
	_, err = requireLikeReader(t, fx, gzipOf(t, text))
	require.NoError(t, err)
	// The previous file itself: all copied.
	got, err = requireLikeReader(t, fx, fx.prevData)
	require.NoError(t, err)
	require.Zero(t, decoded(got))
}

// FuzzContentsLike: whatever gunzipLike makes of a new Contents.gz (told
// from a traced previous one) is what a gzip reader makes of it, or both
// refuse it.
func FuzzContentsLike(f *testing.F) {
	fx := newLikeFixture(f, 200, 6)
	f.Add(fx.newData)
	f.Add(fx.prevData)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = requireLikeReader(t, fx, data)
	})
}

// TestDecodeLikeWindow: a block with the previous stream's bits after it
// does not decode as it did when the window before it differs. The new
// stream changes a stored block that the next block copies from; its
// trailer is that of the text a decoder blind to the window would give.
func TestDecodeLikeWindow(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	a := make([]byte, 1000)
	for i := range a {
		a[i] = byte(rng.IntN(256))
	}
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, 6)
	require.NoError(t, err)
	_, err = w.Write(a)
	require.NoError(t, err)
	require.NoError(t, w.Flush()) // random bytes: a stored block
	_, err = w.Write(a)           // a copy of the window
	require.NoError(t, err)
	require.NoError(t, w.Close())
	stream := buf.Bytes()
	gz := func(stream, text []byte) []byte {
		return appendTrailer(append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}, stream...), text)
	}
	prevData := gz(stream, append(bytes.Clone(a), a...))
	plain, trace, err := traceGzip(prevData, 1<<30, 0)
	require.NoError(t, err)
	require.NotNil(t, trace)
	fx := likeFixture{prevData: prevData, prevPlain: plain, trace: trace}

	at := bytes.Index(stream, a)
	require.Positive(t, at, "a is stored as it is")
	changed := bytes.Clone(a)
	changed[500] ^= 1
	newStream := slices.Concat(stream[:at], changed, stream[at+len(a):])
	_, err = requireLikeReader(t, fx, gz(newStream, append(bytes.Clone(changed), a...)))
	require.Error(t, err, "the second block copies the changed bytes")
	got, err := requireLikeReader(t, fx, gz(newStream, append(bytes.Clone(changed), changed...)))
	require.NoError(t, err)
	require.Positive(t, decoded(got))
}

// appendTrailer appends a gzip trailer for text to a file.
func appendTrailer(file, text []byte) []byte {
	file = binary.LittleEndian.AppendUint32(file, crc32.ChecksumIEEE(text))
	return binary.LittleEndian.AppendUint32(file, uint32(len(text)))
}
