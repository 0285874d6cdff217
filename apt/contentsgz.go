package apt

import (
	"bytes"
	"hash/crc32"
	"slices"
	"sync"

	"github.com/klauspost/compress/flate"
)

// contentsChunkLines is the mean number of lines of a Contents.gz chunk:
// about 40 KB of text at a typical 70-byte line, against deflate's 32 KB
// window. A line's chunk is decided by its path's hash (see chunk.go), so
// a package's files, spread over the whole index, each dirty one chunk.
const contentsChunkLines = 512

// contentsChunk is a run of consecutive lines and its deflate blocks.
type contentsChunk struct {
	lines []*contentsLine
	once  sync.Once
	data  []byte
	crc   uint32 // of the run's text
	size  int    // of the run's text
}

// chunkLines splits lines into chunks as chunkItems splits stanzas,
// reusing from prev every chunk with exactly the same lines.
func chunkLines(lines []*contentsLine, prev []*contentsChunk) []*contentsChunk {
	byFirst := make(map[*contentsLine]*contentsChunk, len(prev))
	for _, c := range prev {
		byFirst[c.lines[0]] = c
	}
	var chunks []*contentsChunk
	for start := 0; start < len(lines); {
		end := start + 1
		for end < len(lines) && lines[end-1].hash%contentsChunkLines != 0 {
			end++
		}
		run := lines[start:end:end]
		if c, ok := byFirst[run[0]]; ok && slices.Equal(c.lines, run) {
			chunks = append(chunks, c)
		} else {
			chunks = append(chunks, &contentsChunk{lines: run})
		}
		start = end
	}
	return chunks
}

func (c *contentsChunk) compress() {
	c.once.Do(func() {
		var buf bytes.Buffer
		w := deflaters.Get().(*flate.Writer)
		defer deflaters.Put(w)
		w.Reset(&buf)
		for _, l := range c.lines {
			w.Write(l.text) // writes to a bytes.Buffer do not fail
			c.crc = crc32.Update(c.crc, crc32.IEEETable, l.text)
			c.size += len(l.text)
		}
		w.Flush()
		c.data = buf.Bytes()
	})
}

// gzip returns Contents-<arch>.gz, compressing the chunks not compressed
// yet on all CPUs. The CRC of the whole text is combined from the chunks'.
func (ct *Contents) gzip() []byte {
	compressChunks(ct.chunks, (*contentsChunk).compress)
	data := make([][]byte, len(ct.chunks))
	var crc uint32
	total := 0
	for i, c := range ct.chunks {
		data[i] = c.data
		crc = crc32Combine(crc, c.crc, int64(c.size))
		total += c.size
	}
	return gzipMember(data, crc, total)
}

// crc32Combine is the CRC-32 (IEEE) of A followed by B, from crcA, crcB
// and B's length: zlib's crc32_combine, which Go's hash/crc32 lacks, with
// the operators for 2^k zero bytes computed once.
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	ops := crcZeroOps()
	for k := 0; lenB > 0; k, lenB = k+1, lenB>>1 {
		if lenB&1 != 0 {
			crcA = gf2Times(&ops[k], crcA)
		}
	}
	return crcA ^ crcB
}

// crcZeroOps returns, for each k, the GF(2) matrix that appends 2^k zero
// bytes to a CRC-32.
var crcZeroOps = sync.OnceValue(func() *[63][32]uint32 {
	var ops [63][32]uint32
	var one [32]uint32 // one zero bit
	one[0] = crc32.IEEE
	for n := 1; n < 32; n++ {
		one[n] = 1 << (n - 1)
	}
	var two, four [32]uint32
	gf2Square(&two, &one)
	gf2Square(&four, &two)
	gf2Square(&ops[0], &four) // eight zero bits: one byte
	for k := 1; k < len(ops); k++ {
		gf2Square(&ops[k], &ops[k-1])
	}
	return &ops
})

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
