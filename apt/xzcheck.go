package apt

import (
	"bytes"
	"errors"
	"fmt"
)

// errXZ reports xz data whose structure cannot be walked; the decoder would
// reject it too.
var errXZ = errors.New("corrupt xz data")

// checkXZ walks the container structure of xz data (streams, block headers,
// LZMA2 chunk headers, indexes; see the .xz file format specification) without
// decompressing, and fails if a block declares an LZMA2 dictionary larger
// than maxDict. LZMA2 chunk headers carry their sizes, so blocks can be
// skipped even when their headers omit the compressed size, as liblzma's
// single-threaded encoder does.
func checkXZ(b []byte, maxDict int64) error {
	w := xzWalker{b: b}
	streams := 0
	for w.p < len(b) {
		if streams > 0 && b[w.p] == 0 { // stream padding, in 4-byte units
			if !w.skip(4) || !bytes.Equal(b[w.p-4:w.p], []byte{0, 0, 0, 0}) {
				return errXZ
			}
			continue
		}
		if err := w.stream(maxDict); err != nil {
			return err
		}
		streams++
	}
	if streams == 0 {
		return errXZ
	}
	return nil
}

type xzWalker struct {
	b []byte
	p int
}

func (w *xzWalker) skip(n int) bool {
	if n < 0 || n > len(w.b)-w.p {
		return false
	}
	w.p += n
	return true
}

// vli reads a variable-length integer (at most 9 bytes, 63 bits).
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

func (w *xzWalker) stream(maxDict int64) error {
	if !bytes.HasPrefix(w.b[w.p:], []byte("\xfd7zXZ\x00")) || !w.skip(12) {
		return errXZ
	}
	flags := w.b[w.p-5]
	checkSize := 0
	if c := flags & 0x0f; c > 0 {
		checkSize = 4 << ((c - 1) / 3) // 4, 8, 16, 32 or 64 bytes
	}
	for {
		if w.p >= len(w.b) {
			return errXZ
		}
		if w.b[w.p] == 0 {
			return w.indexAndFooter()
		}
		if err := w.block(maxDict, checkSize); err != nil {
			return err
		}
	}
}

func (w *xzWalker) block(maxDict int64, checkSize int) error {
	start := w.p
	end := start + (int(w.b[start])+1)*4
	if end > len(w.b) {
		return errXZ
	}
	flags := w.b[start+1]
	w.p = start + 2
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // compressed, uncompressed size
		if !present {
			continue
		}
		if _, ok := w.vli(end); !ok {
			return errXZ
		}
	}
	lastIsLZMA2 := false
	for range int(flags&3) + 1 {
		id, okID := w.vli(end)
		size, okSize := w.vli(end)
		if !okID || !okSize || size > uint64(end-w.p) {
			return errXZ
		}
		props := w.b[w.p : w.p+int(size)]
		w.p += int(size)
		lastIsLZMA2 = id == 0x21
		if !lastIsLZMA2 {
			continue
		}
		if len(props) != 1 || props[0] > 40 {
			return errXZ
		}
		if d := xzDictSize(props[0]); d > maxDict {
			return fmt.Errorf("xz dictionary of %d MiB is larger than the %d MiB limit", d>>20, maxDict>>20)
		}
	}
	if !lastIsLZMA2 {
		return errXZ
	}
	w.p = end
	if !w.lzma2() {
		return errXZ
	}
	// Padding aligns header plus data to 4 bytes; the check follows.
	if !w.skip((4-(w.p-start)%4)%4 + checkSize) {
		return errXZ
	}
	return nil
}

// xzDictSize decodes the LZMA2 dictionary-size property byte (0..40).
func xzDictSize(code byte) int64 {
	if code == 40 {
		return 1<<32 - 1
	}
	return int64(2|code&1) << (code/2 + 11)
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

// indexAndFooter skips a stream's index and its 12-byte footer.
func (w *xzWalker) indexAndFooter() error {
	start := w.p
	w.p++ // index indicator
	n, ok := w.vli(len(w.b))
	if !ok || n > uint64(len(w.b)) {
		return errXZ
	}
	for range 2 * n { // unpadded size, uncompressed size
		if _, ok := w.vli(len(w.b)); !ok {
			return errXZ
		}
	}
	if !w.skip((4-(w.p-start)%4)%4+4+12) || !bytes.HasSuffix(w.b[:w.p], []byte("YZ")) {
		return errXZ
	}
	return nil
}
