package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
)

// chunkedGzip writes plain as aptq's Packages.gz is written: chunks each
// compressed by a fresh encoder at level and ended by a sync flush, then an
// empty final block, in a gzip member with a plain header.
func chunkedGzip(t *testing.T, chunks [][]byte, levels []int) []byte {
	t.Helper()
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	var plain []byte
	for i, c := range chunks {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, levels[i%len(levels)])
		require.NoError(t, err)
		_, err = w.Write(c)
		require.NoError(t, err)
		require.NoError(t, w.Flush())
		out = append(out, buf.Bytes()...)
		plain = append(plain, c...)
	}
	out = append(out, 0x03, 0x00)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(plain))
	return binary.LittleEndian.AppendUint32(out, uint32(len(plain)))
}

func textChunks(rng *rand.Rand, n int) [][]byte {
	words := []string{"Package: ", "Version: 1.", "Depends: libc6\n", "Description: a tool\n", "\n"}
	chunks := make([][]byte, n)
	for i := range chunks {
		var b bytes.Buffer
		for range 2000 + rng.IntN(3000) {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(40) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			}
		}
		chunks[i] = b.Bytes()
	}
	return chunks
}

// benchPackages returns n packages like aptq-bench's.
func benchPackages(seed uint64, n int) []apt.Package {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	pkgs := make([]apt.Package, n)
	for i := range pkgs {
		pkgs[i] = benchPackage(rng, i)
	}
	return pkgs
}

// gzIndex is the Packages.gz aptq writes for pkgs.
func gzIndex(tb testing.TB, pkgs []apt.Package) []byte {
	tb.Helper()
	files, err := apt.GenerateIndexes("main", "amd64", pkgs, []apt.Compression{apt.Gzip})
	if err != nil {
		tb.Fatal(err)
	}
	return files[1].Data
}

// The fast path resumes decoding at the block ends the trace records: each
// must be exactly where the decoder was, also after stored blocks (level 0
// chunks and every sync flush), whose offsets klauspost/compress reports
// too far. Resuming from every recorded end must give the rest of the file.
func TestBlockEndsResume(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	data := chunkedGzip(t, textChunks(rng, 24), []int{1, 1, 0, 6, flate.HuffmanOnly})
	plain, trace, err := traceGzip(data, 1<<30, 0)
	require.NoError(t, err)
	require.NotNil(t, trace, "a file written as aptq writes it is traced")
	require.Greater(t, len(trace.ends), 24)
	for _, e := range trace.ends {
		zr := flate.NewReaderOpts(bytes.NewReader(trace.deflate[e.bit/8:]), flate.WithResumeFrom(flate.InflateCheckpoint{
			CompressedOffset: e.bit / 8, BitOffset: uint8(e.bit % 8), UncompressedOffset: e.out,
			Window: plain[max(0, e.out-window):e.out]}))
		rest, err := io.ReadAll(zr)
		require.NoError(t, err, "resume at bit %d (output %d)", e.bit, e.out)
		require.Equal(t, plain[e.out:], rest, "resume at bit %d (output %d)", e.bit, e.out)
	}
}

// sameGzip against apt's own Packages.gz of two generations, and against
// files that differ from the right one where the fast path does not decode.
func TestSameGzip(t *testing.T) {
	t.Parallel()
	pkgs := benchPackages(5, 3001)
	gz := func(pkgs []apt.Package) []byte { return gzIndex(t, pkgs) }
	prevData := gz(pkgs[:3000])
	_, trace, err := traceGzip(prevData, 1<<30, 0)
	require.NoError(t, err)
	require.NotNil(t, trace)
	newData := gz(pkgs)
	want, err := decompress(gzName, newData, 1<<30, 0)
	require.NoError(t, err)
	check := func(data []byte) error {
		stream, ok := deflateOf(data)
		require.True(t, ok)
		return sameGzip(data, stream, want, trace)
	}
	require.NoError(t, check(newData))
	// The previous file is decoded in two halves, split at a chunk boundary.
	split := syncPointAfter(trace.deflate, len(trace.deflate)/2)
	require.Positive(t, split)
	_, _, err = inflateSegment(trace.deflate, 0, split, nil, 1<<30)
	require.NoError(t, err)
	_, _, err = inflateSegment(trace.deflate, split, len(trace.deflate), nil, 1<<30)
	require.NoError(t, err)

	// One byte changed in each part of the stream (the part shared with
	// the previous file before the change, the changed chunk, the part
	// shared after it): each is refused, whatever the fast path skips.
	stream, _ := deflateOf(newData)
	shared, tail := commonPrefix(trace.deflate, stream), commonSuffix(trace.deflate, stream)
	for _, at := range []int{shared / 2, shared + 1, len(stream) - tail/2, len(stream) - 3} {
		bad := bytes.Clone(newData)
		bad[gzipHeaderSize+at] ^= 0x40
		require.Error(t, check(bad), "byte %d of %d changed (shared %d, tail %d)", at, len(stream), shared, tail)
	}
	// The right stream with bytes after its end, or a second member.
	extra := append(bytes.Clone(newData[:len(newData)-8]), 0x00)
	extra = append(extra, newData[len(newData)-8:]...)
	require.Error(t, check(extra))
	require.Error(t, check(append(bytes.Clone(newData), gz(pkgs[:1])...)))
	// The previous file, which lacks the change.
	require.Error(t, check(prevData))
}

// BenchmarkSameGzip is the new Packages.gz of S1 checked from the previous
// one's trace, against decoding it whole.
func BenchmarkSameGzip(b *testing.B) {
	pkgs := benchPackages(1, 20001)
	gz := func(pkgs []apt.Package) []byte { return gzIndex(b, pkgs) }
	_, trace, err := traceGzip(gz(pkgs[:20000]), 1<<30, 0)
	if err != nil || trace == nil {
		b.Fatal(err)
	}
	newData := gz(pkgs)
	want, err := decompress(gzName, newData, 1<<30, 0)
	if err != nil {
		b.Fatal(err)
	}
	stream, _ := deflateOf(newData)
	for _, mode := range []string{"from-trace", "whole"} {
		b.Run(fmt.Sprint(mode), func(b *testing.B) {
			for b.Loop() {
				if mode == "whole" {
					_, err = digestGzip(newData, int64(len(want)))
				} else {
					err = sameGzip(newData, stream, want, trace)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzSameGzip: whatever new Packages.gz sameGzip accepts, a gzip reader
// (reading members as apt does) decodes to want.
func FuzzSameGzip(f *testing.F) {
	pkgs := benchPackages(7, 301)
	gz := func(pkgs []apt.Package) []byte { return gzIndex(f, pkgs) }
	_, trace, err := traceGzip(gz(pkgs[:300]), 1<<30, 0)
	if err != nil || trace == nil {
		f.Fatal(err)
	}
	newData := gz(pkgs)
	want, err := decompress(gzName, newData, 1<<30, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(newData)
	f.Add(gz(pkgs[:300]))
	f.Add(gz(append(pkgs[:150:150], pkgs[151:]...)))
	f.Fuzz(func(t *testing.T, data []byte) {
		stream, ok := deflateOf(data)
		if !ok || sameGzip(data, stream, want, trace) != nil {
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// FuzzTraceGzip: what traceGzip decodes, in halves or in one go, is what a
// gzip reader decodes, and decoding resumed at any block end it records
// gives the rest.
func FuzzTraceGzip(f *testing.F) {
	f.Add(gzIndex(f, benchPackages(9, 200)))
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, trace, err := traceGzip(data, 1<<24, 0)
		if err != nil {
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		want, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, want, plain)
		if trace == nil {
			return
		}
		for _, e := range trace.ends {
			zr := flate.NewReaderOpts(bytes.NewReader(trace.deflate[e.bit/8:]), flate.WithResumeFrom(flate.InflateCheckpoint{
				CompressedOffset: e.bit / 8, BitOffset: uint8(e.bit % 8), UncompressedOffset: e.out,
				Window: plain[max(0, e.out-window):e.out]}))
			rest, err := io.ReadAll(zr)
			require.NoError(t, err)
			require.Equal(t, plain[e.out:], rest)
		}
	})
}
