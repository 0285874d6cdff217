package apt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// XZBlock is one Block of an xz file as XZBlocks found it. Blocks are
// decoded independently, so a signer checking a Packages.xz decodes only
// the Blocks that differ from those of the index it signed last, in
// parallel.
type XZBlock struct {
	// Raw is the Block as stored: header, LZMA2 data, padding and check.
	// Equal Raw bytes decode to equal text.
	Raw []byte
	// Size is the uncompressed size the stream's Index records for it.
	Size    int64
	header  int64 // the uncompressed size the Block header gives, or -1
	dictCap int
	data    []byte // the LZMA2 data
	check   []byte // CRC64, or nil for a stream without checks
}

// maxXZBlockDict bounds the dictionary a Block may ask a decoder to
// allocate; aptq writes xzDictCap.
const maxXZBlockDict = 64 << 20

// XZBlocks splits an xz file into its Blocks. It accepts what a decoder
// such as liblzma reads the same way and aptq writes: one stream, CRC64 or
// no checks, one LZMA2 filter per Block, and an Index that matches the
// Blocks; anything else is an error, so that no other reading of the file
// can decode to something else.
func XZBlocks(data []byte) ([]XZBlock, error) {
	if len(data) < 32 || !bytes.HasPrefix(data, xzMagic) {
		return nil, fmt.Errorf("xz: not an xz file")
	}
	flags := data[6:8]
	if binary.LittleEndian.Uint32(data[8:12]) != crc32.ChecksumIEEE(flags) {
		return nil, fmt.Errorf("xz: stream header CRC mismatch")
	}
	checkSize := 0
	switch {
	case flags[0] == 0 && flags[1] == 0:
	case flags[0] == 0 && flags[1] == 4:
		checkSize = xzCheckSize
	default:
		return nil, fmt.Errorf("xz: unsupported stream flags %x", flags)
	}
	w := xzWalker{b: data, p: 12}
	var blocks []XZBlock
	var unpadded []int
	for {
		if w.p >= len(data) {
			return nil, fmt.Errorf("xz: truncated")
		}
		if data[w.p] == 0 {
			break
		}
		b, u, err := w.xzBlock(checkSize)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
		unpadded = append(unpadded, u)
	}
	indexStart := w.p
	w.p++
	n, ok := w.vli(len(data))
	if !ok || n != uint64(len(blocks)) {
		return nil, fmt.Errorf("xz: the index lists %d blocks, the stream has %d", n, len(blocks))
	}
	for i := range blocks {
		u, okU := w.vli(len(data))
		size, okS := w.vli(len(data))
		if !okU || !okS || u != uint64(unpadded[i]) || size > 1<<40 {
			return nil, fmt.Errorf("xz: index record %d does not match its block", i)
		}
		if h := blocks[i].header; h >= 0 && h != int64(size) {
			return nil, fmt.Errorf("xz: block %d header and index disagree on its size", i)
		}
		blocks[i].Size = int64(size)
	}
	for (w.p-indexStart)%4 != 0 {
		if w.p >= len(data) || data[w.p] != 0 {
			return nil, fmt.Errorf("xz: bad index padding")
		}
		w.p++
	}
	if w.p+4+12 != len(data) {
		return nil, fmt.Errorf("xz: %d bytes after the index, want the 12-byte footer", len(data)-w.p-4)
	}
	if binary.LittleEndian.Uint32(data[w.p:]) != crc32.ChecksumIEEE(data[indexStart:w.p]) {
		return nil, fmt.Errorf("xz: index CRC mismatch")
	}
	footer := data[w.p+4:]
	if binary.LittleEndian.Uint32(footer) != crc32.ChecksumIEEE(footer[4:10]) ||
		int(binary.LittleEndian.Uint32(footer[4:8])+1)*4 != w.p+4-indexStart ||
		!bytes.Equal(footer[8:10], flags) || !bytes.Equal(footer[10:], xzFooterMagic) {
		return nil, fmt.Errorf("xz: bad stream footer")
	}
	return blocks, nil
}

// xzBlock reads one Block and returns it with its Unpadded Size.
func (w *xzWalker) xzBlock(checkSize int) (XZBlock, int, error) {
	start := w.p
	hdrEnd := start + (int(w.b[start])+1)*4
	if hdrEnd > len(w.b) {
		return XZBlock{}, 0, fmt.Errorf("xz: truncated block header")
	}
	if binary.LittleEndian.Uint32(w.b[hdrEnd-4:]) != crc32.ChecksumIEEE(w.b[start:hdrEnd-4]) {
		return XZBlock{}, 0, fmt.Errorf("xz: block header CRC mismatch")
	}
	flags := w.b[start+1]
	if flags&0x3f != 0 { // one filter, no reserved bits
		return XZBlock{}, 0, fmt.Errorf("xz: block with %d filters or reserved flags", flags&3+1)
	}
	w.p = start + 2
	compressed, uncompressed := int64(-1), int64(-1)
	for _, f := range []struct {
		present bool
		dst     *int64
	}{{flags&0x40 != 0, &compressed}, {flags&0x80 != 0, &uncompressed}} {
		if f.present {
			v, ok := w.vli(hdrEnd - 4)
			if !ok || v > 1<<40 {
				return XZBlock{}, 0, fmt.Errorf("xz: bad block header size")
			}
			*f.dst = int64(v)
		}
	}
	id, okID := w.vli(hdrEnd - 4)
	propSize, okSize := w.vli(hdrEnd - 4)
	if !okID || !okSize || id != xzFilterLZMA2 || propSize != 1 || w.p >= hdrEnd-4 {
		return XZBlock{}, 0, fmt.Errorf("xz: block filter is not LZMA2")
	}
	dictCode := w.b[w.p]
	if dictCode > 40 || xzDictSize(dictCode) > maxXZBlockDict {
		return XZBlock{}, 0, fmt.Errorf("xz: block dictionary over %d MiB", maxXZBlockDict>>20)
	}
	for _, c := range w.b[w.p+1 : hdrEnd-4] {
		if c != 0 {
			return XZBlock{}, 0, fmt.Errorf("xz: bad block header padding")
		}
	}
	w.p = hdrEnd
	if !w.lzma2() {
		return XZBlock{}, 0, fmt.Errorf("xz: corrupt LZMA2 data")
	}
	data := w.b[hdrEnd:w.p]
	if compressed >= 0 && compressed != int64(len(data)) {
		return XZBlock{}, 0, fmt.Errorf("xz: block header says %d compressed bytes, the data has %d", compressed, len(data))
	}
	unpadded := w.p - start + checkSize
	for (w.p-start)%4 != 0 {
		if w.p >= len(w.b) || w.b[w.p] != 0 {
			return XZBlock{}, 0, fmt.Errorf("xz: bad block padding")
		}
		w.p++
	}
	if !w.skip(checkSize) {
		return XZBlock{}, 0, fmt.Errorf("xz: truncated block check")
	}
	b := XZBlock{Raw: w.b[start:w.p:w.p], header: uncompressed, dictCap: int(xzDictSize(dictCode)), data: data}
	if checkSize > 0 {
		b.check = w.b[w.p-checkSize : w.p]
	}
	return b, unpadded, nil
}

// Decode decompresses the Block and checks its size against the Index and
// its CRC64.
func (b XZBlock) Decode() ([]byte, error) {
	r, err := lzma.Reader2Config{DictCap: max(b.dictCap, lzma.MinDictCap)}.NewReader2(bytes.NewReader(b.data))
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	out := make([]byte, b.Size+1)
	n, err := io.ReadFull(r, out)
	if (err != io.ErrUnexpectedEOF && err != io.EOF) || int64(n) != b.Size {
		return nil, fmt.Errorf("xz: block decodes to more or less than the %d bytes its index records", b.Size)
	}
	out = out[:n]
	if b.check != nil && binary.LittleEndian.Uint64(b.check) != crc64.Checksum(out, crc64Table) {
		return nil, fmt.Errorf("xz: block check mismatch")
	}
	return out, nil
}

func (w *xzWalker) skip(n int) bool {
	if n < 0 || n > len(w.b)-w.p {
		return false
	}
	w.p += n
	return true
}

// lzma2 skips LZMA2 chunks up to and including the end marker.
func (w *xzWalker) lzma2() bool {
	for w.p < len(w.b) {
		c := w.b[w.p]
		w.p++
		hdr := 0
		switch {
		case c == 0:
			return true
		case c == 1 || c == 2: // uncompressed chunk: size-1 (2 bytes)
			hdr = 2
		case c >= 0xc0: // LZMA chunk with properties: usize, csize, props
			hdr = 5
		case c >= 0x80: // LZMA chunk: usize-1 (2 bytes), csize-1 (2 bytes)
			hdr = 4
		default:
			return false
		}
		if !w.skip(hdr) {
			return false
		}
		at := w.p - 2 // the 2-byte data size ends the header...
		if hdr == 5 {
			at-- // ...or precedes the properties byte
		}
		if !w.skip(int(w.b[at])<<8 | int(w.b[at+1]) + 1) {
			return false
		}
	}
	return false
}
