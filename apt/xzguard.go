package apt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// errXZ reports xz data whose structure cannot be walked; the decoder would
// reject it too.
var errXZ = errors.New("corrupt xz data")

// xzGuard passes xz data through unchanged while walking its container
// structure (streams, block headers, LZMA2 chunk headers, indexes; see the
// .xz file format specification), and fails before the decoder reads a
// block header that declares an LZMA2 dictionary larger than maxDict:
// github.com/ulikunitz/xz allocates whatever a block header asks for (up to
// 4 GiB) before decoding a byte, and its ReaderConfig.DictCap is a floor,
// not a cap. LZMA2 chunk headers carry their sizes, so the guard finds every
// block header as the data streams past, holding only the header in hand.
type xzGuard struct {
	r       io.Reader
	maxDict int64

	state     xzState
	pending   []byte // checked structure bytes not yet handed on
	buf       [1024]byte
	pass      int64  // data bytes to hand on before the next structure
	streams   int    // streams seen, to tell padding and the end from garbage
	checkSize int    // bytes of the integrity check after each block
	unpadded  int    // bytes of the current block or index, for its padding
	records   uint64 // index fields left to read
	err       error
}

type xzState int

const (
	xzStream       xzState = iota // stream header, stream padding or the end
	xzBlockOrIndex                // block header or index indicator
	xzChunk                       // LZMA2 chunk header or end marker
	xzIndexCount                  // number of index records
	xzIndexRecord                 // unpadded and uncompressed size of each block
)

func newXZGuard(r io.Reader, maxDict int64) *xzGuard {
	return &xzGuard{r: r, maxDict: maxDict}
}

func (g *xzGuard) Read(p []byte) (int, error) {
	for len(g.pending) == 0 && g.pass == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if g.err = g.step(); g.err != nil {
			g.pending = nil // never hand on a structure that failed its check
		}
	}
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	if int64(len(p)) > g.pass {
		p = p[:g.pass]
	}
	n, err := g.r.Read(p)
	g.pass -= int64(n)
	g.unpadded += n
	if err == io.EOF {
		err = errTruncated
	}
	return n, err
}

// read reads exactly n structure bytes into pending (which is empty).
func (g *xzGuard) read(n int) ([]byte, error) {
	b := g.buf[:n]
	if _, err := io.ReadFull(g.r, b); err != nil {
		return nil, truncatedOr(err)
	}
	g.pending = b
	g.unpadded += n
	return b, nil
}

// step reads and checks the next structure and says what follows it.
func (g *xzGuard) step() error {
	switch g.state {
	case xzStream:
		return g.streamHeader()
	case xzBlockOrIndex:
		b, err := g.read(1)
		if err != nil {
			return err
		}
		if b[0] == 0 {
			g.state, g.unpadded = xzIndexCount, 1
			return nil
		}
		return g.blockHeader(int(b[0]))
	case xzChunk:
		return g.chunkHeader()
	case xzIndexCount, xzIndexRecord:
		v, err := g.vli()
		if err != nil {
			return err
		}
		if g.state == xzIndexCount {
			if v > 1<<62 {
				return errXZ
			}
			g.state, g.records = xzIndexRecord, 2*v
		} else {
			g.records--
		}
		if g.records == 0 {
			// Padding to 4 bytes, CRC32, stream footer.
			g.pass = int64((4-g.unpadded%4)%4 + 4 + 12)
			g.state = xzStream
			g.streams++
		}
		return nil
	}
	return errXZ
}

func (g *xzGuard) streamHeader() error {
	b := g.buf[:4]
	n, err := io.ReadFull(g.r, b)
	switch {
	case n == 0 && err == io.EOF && g.streams > 0:
		return io.EOF
	case err != nil:
		return g.headerError(err)
	}
	g.pending = b
	if g.streams > 0 && bytes.Equal(b, []byte{0, 0, 0, 0}) {
		return nil // stream padding
	}
	if _, err := io.ReadFull(g.r, g.buf[4:12]); err != nil {
		return g.headerError(err)
	}
	g.pending = g.buf[:12]
	if !bytes.HasPrefix(g.pending, []byte("\xfd7zXZ\x00")) {
		return errXZ
	}
	g.checkSize = 0
	if c := g.pending[7] & 0x0f; c > 0 {
		g.checkSize = 4 << ((c - 1) / 3) // 4, 8, 16, 32 or 64 bytes
	}
	g.state = xzBlockOrIndex
	return nil
}

// headerError reports a member too short for an xz stream header as not
// xz at all, and a stream cut short after a complete one as truncated.
func (g *xzGuard) headerError(err error) error {
	if g.streams == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return errXZ
	}
	return truncatedOr(err)
}

// blockHeader reads the rest of a block header whose first byte is
// sizeByte and checks its filters.
func (g *xzGuard) blockHeader(sizeByte int) error {
	size := (sizeByte + 1) * 4
	if _, err := io.ReadFull(g.r, g.buf[1:size]); err != nil {
		return truncatedOr(err)
	}
	g.pending = g.buf[:size]
	g.unpadded = size
	if binary.LittleEndian.Uint32(g.pending[size-4:]) != crc32.ChecksumIEEE(g.pending[:size-4]) {
		return errXZ
	}
	w := xzWalker{b: g.pending[:size-4], p: 2} // the CRC32 ends the header
	flags := g.pending[1]
	usize := int64(-1)
	for i, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // compressed, uncompressed size
		if !present {
			continue
		}
		v, ok := w.vli(len(w.b))
		if !ok {
			return errXZ
		}
		if i == 1 && v < 1<<62 {
			usize = int64(v)
		}
	}
	lastIsLZMA2 := false
	for range int(flags&3) + 1 {
		id, okID := w.vli(len(w.b))
		n, okSize := w.vli(len(w.b))
		if !okID || !okSize || n > uint64(len(w.b)-w.p) {
			return errXZ
		}
		at := w.p
		w.p += int(n)
		lastIsLZMA2 = id == 0x21
		if !lastIsLZMA2 {
			continue
		}
		if n != 1 || w.b[at] > 40 {
			return errXZ
		}
		if err := g.fitDict(&g.pending[at], usize); err != nil {
			return err
		}
	}
	if !lastIsLZMA2 {
		return errXZ
	}
	binary.LittleEndian.PutUint32(g.pending[size-4:], crc32.ChecksumIEEE(g.pending[:size-4]))
	g.state = xzChunk
	return nil
}

// fitDict checks the dictionary-size property *code of a block whose
// uncompressed size is usize (-1: not stated). A dictionary larger than the
// block is never used past the block's size, so when the header states a
// smaller size the property is lowered to fit it (the caller fixes the
// header's CRC32; the decoder fails a block that outgrows its stated size):
// dpkg-deb -z9 declares 64 MiB even for a control.tar of 10 KiB, and the
// decoder would allocate all of it.
func (g *xzGuard) fitDict(code *byte, usize int64) error {
	d := xzDictSize(*code)
	if usize >= 0 && usize < d {
		c := byte(0)
		for xzDictSize(c) < usize {
			c++
		}
		*code, d = c, xzDictSize(c)
	}
	if d > g.maxDict {
		return limitError(fmt.Sprintf("xz dictionary of %d MiB is larger than the %d MiB limit", d>>20, g.maxDict>>20))
	}
	return nil
}

// chunkHeader reads an LZMA2 chunk header and lets its data through.
func (g *xzGuard) chunkHeader() error {
	b, err := g.read(1)
	if err != nil {
		return err
	}
	c := b[0]
	hdr := 0
	switch {
	case c == 0: // end of the block: padding to 4 bytes, then the check
		g.pass = int64((4-g.unpadded%4)%4 + g.checkSize)
		g.state = xzBlockOrIndex
		return nil
	case c == 1 || c == 2: // uncompressed chunk: size-1 (2 bytes)
		hdr = 2
	case c >= 0xc0: // LZMA chunk with properties: usize, csize, props
		hdr = 5
	case c >= 0x80: // LZMA chunk: usize-1 (2 bytes), csize-1 (2 bytes)
		hdr = 4
	default:
		return errXZ
	}
	if _, err := io.ReadFull(g.r, g.buf[1:1+hdr]); err != nil {
		return truncatedOr(err)
	}
	g.pending = g.buf[:1+hdr]
	g.unpadded += hdr
	at := hdr - 1 // the 2-byte data size ends the header...
	if hdr == 5 {
		at-- // ...or precedes the properties byte
	}
	g.pass = int64(g.pending[at])<<8 | int64(g.pending[at+1]) + 1
	return nil
}

// vli reads a variable-length integer of the index (at most 9 bytes).
func (g *xzGuard) vli() (uint64, error) {
	var v uint64
	for i := range 9 {
		if _, err := io.ReadFull(g.r, g.buf[i:i+1]); err != nil {
			return 0, truncatedOr(err)
		}
		c := g.buf[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, errXZ
			}
			g.pending = g.buf[:i+1]
			g.unpadded += i + 1
			return v, nil
		}
	}
	return 0, errXZ
}

// xzWalker reads the xz structure (variable-length integers, block
// headers) from b at p.
type xzWalker struct {
	b []byte
	p int
}

// vli reads a variable-length integer (at most 9 bytes, 63 bits) that must
// end before end.
func (w *xzWalker) vli(end int) (uint64, bool) {
	var v uint64
	for i := 0; i < 9 && w.p < end; i++ {
		c := w.b[w.p]
		w.p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i == 0 || c != 0
		}
	}
	return 0, false
}

// xzDictSize decodes the LZMA2 dictionary-size property byte (0..40).
func xzDictSize(code byte) int64 {
	if code == 40 {
		return 1<<32 - 1
	}
	return int64(2|code&1) << (code/2 + 11)
}
