package apt

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Packages.gz is one gzip member whose deflate stream is a series of
// independently compressed chunks of whole stanzas (see chunk.go): each
// chunk is compressed by a fresh encoder (so it refers to nothing before
// it) and ends with a sync flush (so the next one starts on a byte
// boundary), and an empty final block closes the stream. Any gzip reader
// reads this as an ordinary file. A round that adds one package to a
// 20 000-package index then recompresses one chunk of about 64 stanzas
// instead of 17 MB. klauspost/pgzip splits by size and keeps nothing
// between runs, so it offers neither.

// gzipLevel trades index size for publish latency; apt accepts any level.
// On the first 10 MB of Debian bookworm's main/binary-amd64/Packages,
// level 1 takes 41 ms for a ratio of 3.90, the default level 6 79 ms for
// 4.34, level 9 194 ms for 4.48. The 11% larger file is worth half the
// time: apt prefers Packages.xz when it is listed, and at level 6 a full
// 100 000-package generation no longer fits its one-second budget.
// (BenchmarkGzipLevel repeats the measurement on synthetic data.)
const gzipLevel = flate.BestSpeed

// gzChunkStanzas is the mean number of stanzas of a gzip chunk: about
// 55 KB of a typical index, against deflate's 32 KB window, so restarting
// the encoder at each chunk costs little ratio (see TestGzipChunkRatio).
const gzChunkStanzas = 64

var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, gzipLevel)
	if err != nil {
		panic(err) // gzipLevel is a valid level
	}
	return w
}}

// compressGzip fills c.data: its stanzas as deflate blocks, ended by a sync
// flush.
func (c *chunk) compressGzip() {
	c.once.Do(func() {
		var buf bytes.Buffer
		buf.Grow(textSize(c.items)/3 + 64)
		w := deflaters.Get().(*flate.Writer)
		defer deflaters.Put(w)
		w.Reset(&buf)
		for _, it := range c.items {
			w.Write(it.text) // writes to a bytes.Buffer do not fail
		}
		w.Flush()
		c.data = buf.Bytes()
	})
}

// gzipHeader is a gzip member header without name or modification time,
// so that the file depends on its content only.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// finalBlock is an empty fixed-Huffman block with BFINAL set: the end of
// the deflate stream.
var finalBlock = []byte{0x03, 0x00}

// gzip returns Packages.gz, compressing the chunks not compressed yet on
// all CPUs.
func (ix *Index) gzip() []byte {
	compressChunks(ix.gzChunks, (*chunk).compressGzip)
	data := make([][]byte, len(ix.gzChunks))
	for i, c := range ix.gzChunks {
		data[i] = c.data
	}
	return gzipMember(data, crc32.ChecksumIEEE(ix.plain), len(ix.plain))
}

// gzipMember joins deflate chunks, each ending on a byte boundary without
// BFINAL, into one gzip member of a text of size bytes with CRC-32 crc.
func gzipMember(chunks [][]byte, crc uint32, size int) []byte {
	n := len(gzipHeader) + len(finalBlock) + 8
	for _, c := range chunks {
		n += len(c)
	}
	out := make([]byte, 0, n)
	out = append(out, gzipHeader...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	out = append(out, finalBlock...)
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(size))
}
