package apt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"

	"github.com/ulikunitz/xz/lzma"
)

// Packages.xz is one xz stream with one Block per chunk of whole stanzas
// (see chunk.go), each Block's LZMA2 data compressed by a fresh encoder and
// so decodable on its own. The container is written here rather than by
// ulikunitz/xz's Writer, which compresses a stream in one go and cannot
// reuse Blocks. Every Block header carries its compressed and uncompressed
// sizes, which lets xz ≥ 5.4 decompress the Blocks on several threads.
//
// xz chunks are coarser than gzip chunks: LZMA2's ratio owes more to long
// history than deflate's, whose window is 32 KB. On the first 20 000
// stanzas (15.9 MB) of Debian bookworm's main/binary-amd64/Packages,
// against the whole file compressed as one Block with the same dictionary
// (3 537 752 bytes, ratio 4.50), chunks of a mean 128 stanzas cost 3.9%,
// 256 stanzas 2.2%, 512 1.3%, 1024 0.5%; on synthRepo's main/binary-amd64
// of 100 000 packages (11.3 MB), whose small vocabulary needs little
// history, all are within 0.2% (see TestXZChunkRatio). With 256 a chunk
// is 200 KB on average and the largest 920 KB on both, so a one-package
// change recompresses less than 1 MB (BenchmarkApplyOneAdd20kXZ: 16 ms,
// against 170 ms for the whole file before), while compressing every
// chunk on one CPU takes as long as the whole file (about 1 s for the
// 15.9 MB). With 512 the largest chunk is 1.1 MB on Debian's index and
// 1.8 MB on synthRepo's. As divisors of chunkHash, 256 and gzChunkStanzas
// make every xz boundary a gzip boundary too.
const xzChunkStanzas = 256

// xzDictCap is the LZMA2 dictionary size of a Packages.xz Block. With this
// encoder (github.com/ulikunitz/xz, hash-table matcher) a 256 KiB
// dictionary is about six times faster than the 8 MiB default for a 3%
// larger file (first 10 MB of Debian bookworm's main/binary-amd64/Packages
// as one stream: 548 ms, ratio 4.48, vs 3.1 s, ratio 4.60), allocates a
// quarter of the memory, and keeps the decoder in apt small. It covers
// most of a chunk: on the chunks above, 128 KiB and 512 KiB give sizes
// within 0.1%.
const xzDictCap = 256 << 10

// Fields of the .xz file format (https://tukaani.org/xz/xz-file-format.txt).
var (
	xzMagic       = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	xzFooterMagic = []byte{'Y', 'Z'}
	// xzFlags are the stream flags: CRC64 checks, as xz writes by default.
	xzFlags = []byte{0, 0x04}
)

const (
	xzCheckSize = 8 // CRC64
	// xzSizesPresent are the Block Flags of a Block with one filter
	// whose header gives the compressed and uncompressed sizes.
	xzSizesPresent = 0x40 | 0x80
	xzFilterLZMA2  = 0x21
)

var crc64Table = crc64.MakeTable(crc64.ECMA)

// compressXZ fills c.data with the xz Block of its stanzas.
func (c *chunk) compressXZ() {
	c.once.Do(func() {
		c.data, c.unpadded, c.err = xzBlock(c.items)
	})
}

// xzBlock returns the Block of items (header, LZMA2 data, padding, check)
// and its Unpadded Size.
func xzBlock(items []*item) ([]byte, int, error) {
	size := textSize(items)
	var payload bytes.Buffer
	payload.Grow(size/3 + 64)
	w, err := lzma.Writer2Config{DictCap: xzDictCap}.NewWriter2(&payload)
	if err != nil {
		return nil, 0, fmt.Errorf("xz: %w", err)
	}
	var check uint64
	for _, it := range items {
		if _, err := w.Write(it.text); err != nil {
			return nil, 0, fmt.Errorf("xz: %w", err)
		}
		check = crc64.Update(check, crc64Table, it.text)
	}
	if err := w.Close(); err != nil {
		return nil, 0, fmt.Errorf("xz: %w", err)
	}
	block := appendXZBlockHeader(make([]byte, 0, 32+payload.Len()+3+xzCheckSize), payload.Len(), size)
	block = append(block, payload.Bytes()...)
	unpadded := len(block) + xzCheckSize
	block = appendXZPadding(block, len(block))
	block = binary.LittleEndian.AppendUint64(block, check)
	return block, unpadded, nil
}

// appendXZBlockHeader appends the header of a Block of one LZMA2 filter.
func appendXZBlockHeader(b []byte, compressed, uncompressed int) []byte {
	start := len(b)
	b = append(b, 0, xzSizesPresent) // the size byte is set below
	b = appendVLI(b, uint64(compressed))
	b = appendVLI(b, uint64(uncompressed))
	b = append(b, xzFilterLZMA2, 1, lzma.EncodeDictCap(xzDictCap))
	b = appendXZPadding(b, len(b)-start)
	b[start] = byte((len(b)-start+4)/4 - 1) // the CRC32 follows
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// appendXZPadding appends the zeros that bring n bytes to a multiple of 4.
func appendXZPadding(b []byte, n int) []byte {
	return append(b, make([]byte, (4-n%4)%4)...)
}

// appendVLI appends v as an xz variable-length integer: 7 bits a byte,
// least significant first, the high bit set on all bytes but the last.
func appendVLI(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// xz returns Packages.xz, compressing the chunks not compressed yet on all
// CPUs.
func (ix *Index) xz() ([]byte, error) {
	compressChunks(ix.xzChunks, (*chunk).compressXZ)
	size := 2*12 + 64 + 16*len(ix.xzChunks) // stream header and footer, index
	for _, c := range ix.xzChunks {
		if c.err != nil {
			return nil, c.err
		}
		size += len(c.data)
	}
	out := make([]byte, 0, size)
	out = append(out, xzMagic...)
	out = append(out, xzFlags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(xzFlags))
	for _, c := range ix.xzChunks {
		out = append(out, c.data...)
	}
	indexStart := len(out)
	out = appendXZIndex(out, ix.xzChunks)
	return appendXZFooter(out, len(out)-indexStart), nil
}

// appendXZIndex appends the Index of a stream of chunks' Blocks.
func appendXZIndex(b []byte, chunks []*chunk) []byte {
	start := len(b)
	b = append(b, 0) // Index Indicator
	b = appendVLI(b, uint64(len(chunks)))
	for _, c := range chunks {
		b = appendVLI(b, uint64(c.unpadded))
		b = appendVLI(b, uint64(textSize(c.items)))
	}
	b = appendXZPadding(b, len(b)-start)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// appendXZFooter appends the Stream Footer after an Index of indexSize
// bytes.
func appendXZFooter(b []byte, indexSize int) []byte {
	var fields [6]byte // Backward Size, Stream Flags
	binary.LittleEndian.PutUint32(fields[:4], uint32(indexSize/4-1))
	copy(fields[4:], xzFlags)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(fields[:]))
	b = append(b, fields[:]...)
	return append(b, xzFooterMagic...)
}
