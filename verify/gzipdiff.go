package verify

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/klauspost/compress/flate"
)

// likeText is what a new gzip file decodes to, told from what the previous
// file decoded to (prev): parts, each either decoded from the new file or
// copied from prev, where the new stream has the previous one's bits.
type likeText struct {
	prev  []byte
	parts []textPart
	size  int
}

// textPart is a part of a likeText: data, which is prev[at:] when at >= 0
// (copied from the previous text) and decoded from the new file else.
type textPart struct {
	data []byte
	at   int
}

// likeTextOf tells plain from prev by comparing them (a file decoded
// whole): the bytes both start and end with, and the rest.
func likeTextOf(prev, plain []byte) likeText {
	head := commonPrefix(prev, plain)
	tail := commonSuffix(prev[head:], plain[head:])
	t := likeText{prev: prev}
	t.add(prev[:head], 0)
	t.add(plain[head:len(plain)-tail], -1)
	t.add(prev[len(prev)-tail:], len(prev)-tail)
	return t
}

func (t *likeText) add(data []byte, at int) {
	if len(data) == 0 {
		return
	}
	t.size += len(data)
	if k := len(t.parts) - 1; at >= 0 && k >= 0 && t.parts[k].at >= 0 && t.parts[k].at+len(t.parts[k].data) == at {
		t.parts[k].data = t.prev[t.parts[k].at : at+len(data)]
		return
	}
	t.parts = append(t.parts, textPart{data: data, at: at})
}

// pieces returns the parts' bytes, in order.
func (t *likeText) pieces() [][]byte {
	out := make([][]byte, len(t.parts))
	for i, p := range t.parts {
		out[i] = p.data
	}
	return out
}

// slice returns bytes i to j of the text: a part of a piece when they are
// in one, else a copy.
func (t *likeText) slice(i, j int) []byte {
	var out []byte
	for _, p := range t.parts {
		if lo, hi := max(i, 0), min(j, len(p.data)); lo < hi {
			if i >= 0 && j <= len(p.data) {
				return p.data[lo:hi]
			}
			out = append(out, p.data[lo:hi]...)
		}
		i, j = i-len(p.data), j-len(p.data)
	}
	return out
}

// equal says whether the text is want.
func (t *likeText) equal(want []byte) bool {
	if t.size != len(want) {
		return false
	}
	for _, p := range t.parts {
		if !bytes.Equal(p.data, want[:len(p.data)]) {
			return false
		}
		want = want[len(p.data):]
	}
	return true
}

// gunzipLike decompresses a new gzip file, up to limit bytes (sizeHint: its
// listed size), as a text told from the previous file's (prevPlain, traced
// as prev if aptq wrote it): it decodes only where the two differ (see the
// top of gzip.go) and checks the gzip trailer against the text it tells.
// Any other file is decompressed whole, as a gzip reader does.
func gunzipLike(data, prevPlain []byte, prev *gzipTrace, limit, sizeHint int64) (likeText, error) {
	if stream, ok := deflateOf(data); ok && prev != nil {
		t, err := decodeLike(stream, prev, limit)
		if err == nil && checkTrailer(data, t.pieces()...) == nil {
			return t, nil
		}
		// Not as aptq writes files (another member follows, bytes after
		// the stream, a broken trailer): what a gzip reader makes of it.
	}
	plain, err := decompress(gzName, data, limit, sizeHint)
	if err != nil {
		return likeText{}, err
	}
	return likeTextOf(prevPlain, plain), nil
}

// likeDecoder decodes a new deflate stream like a traced previous one.
type likeDecoder struct {
	stream []byte
	prev   *gzipTrace
	byKey  map[string][]int // the previous stream's block ends by endKey
	limit  int64
	text   likeText
}

// match is where the new stream, at one of its block ends, has the same
// window as the previous stream at its block end pi (-1: the start) and
// the same bits after it up to the previous stream's block end q, or up to
// both streams' ends (toEnd).
type match struct {
	pi    int
	q     blockEnd
	toEnd bool
}

// decodeLike decodes a new deflate stream, up to limit bytes, like the
// previous one (traced as prev). Deflate decodes a function of the bits
// and of the window (the last 32 KiB of output): where the new stream, at
// one of its block ends, has the same window as the previous stream at
// one of its own, and the same bits after it up to a later block end of
// the previous stream (or both streams' ends), it decodes to what the
// previous one did up to there, and is not decoded. It is decoded from
// there to the next such block end.
func decodeLike(stream []byte, prev *gzipTrace, limit int64) (likeText, error) {
	d := &likeDecoder{stream: stream, prev: prev, byKey: make(map[string][]int, len(prev.ends)), limit: limit,
		text: likeText{prev: prev.plain}}
	for i, e := range prev.ends {
		k := endKey(prev.deflate, e.bit)
		d.byKey[k] = append(d.byKey[k], i)
	}
	at := blockEnd{} // where the new stream is: it decoded to text up to there
	m := d.reach(at, -1)
	for {
		p := d.end(m.pi)
		if m.toEnd {
			d.text.add(prev.plain[p.out:], int(p.out))
			return d.text, d.checkSize()
		}
		d.text.add(prev.plain[p.out:m.q.out], int(p.out))
		at = blockEnd{bit: at.bit + m.q.bit - p.bit, out: at.out + m.q.out - p.out}
		if err := d.checkSize(); err != nil {
			return likeText{}, err
		}
		var done bool
		var err error
		if at, m, done, err = d.decodeFrom(at); err != nil || done {
			return d.text, err
		}
	}
}

// end is the previous stream's block end i (-1: its start).
func (d *likeDecoder) end(i int) blockEnd {
	if i < 0 {
		return blockEnd{}
	}
	return d.prev.ends[i]
}

func (d *likeDecoder) checkSize() error {
	if int64(d.text.size) > d.limit {
		return fmt.Errorf("larger than %d bytes", d.limit)
	}
	return nil
}

// endKey is what a block end of stream at bit is looked up by: its offset
// in its byte and up to the next 64 bits.
func endKey(stream []byte, bit int64) string {
	i, off := bit/8, byte(bit%8)
	if i >= int64(len(stream)) {
		return string([]byte{off})
	}
	return string(append([]byte{off, stream[i] >> off}, stream[i+1:min(i+9, int64(len(stream)))]...))
}

// reach returns how far the new stream from bit at.bit has the same bits
// as the previous stream from its block end pi (-1: its start): the
// previous stream's last block end up to which it does (pi's own if none),
// or both streams' ends.
func (d *likeDecoder) reach(at blockEnd, pi int) match {
	p := d.end(pi)
	m := match{pi: pi, q: p}
	i, j, off := at.bit/8, p.bit/8, at.bit%8
	if off != p.bit%8 || i >= int64(len(d.stream)) || j >= int64(len(d.prev.deflate)) || d.stream[i]>>off != d.prev.deflate[j]>>off {
		return m
	}
	n := 1 + int64(commonPrefix(d.stream[i+1:], d.prev.deflate[j+1:]))
	m.toEnd = i+n == int64(len(d.stream)) && j+n == int64(len(d.prev.deflate))
	ends := d.prev.ends
	if qi := sort.Search(len(ends), func(k int) bool { return ends[k].bit > (j+n)*8 }) - 1; qi > pi {
		m.q = ends[qi]
	}
	return m
}

// decodeFrom decodes the new stream from its block end at, adding to the
// text, up to the first of its block ends where it rejoins the previous
// stream (see decodeLike), or to its end (done).
func (d *likeDecoder) decodeFrom(at blockEnd) (blockEnd, match, bool, error) {
	// buf holds the new text from the window before at on: buf[i] is its
	// byte base+i.
	w0 := min(at.out, window)
	base := at.out - w0
	buf := append(make([]byte, 0, w0+64<<10), d.text.slice(int(base), int(at.out))...)
	in := bytes.NewReader(d.stream[at.bit/8:])
	rec := &endRecorder{in: in, base: at.bit / 8, size: int64(in.Len())}
	zr := flate.NewReaderOpts(in,
		flate.WithResumeFrom(flate.InflateCheckpoint{CompressedOffset: at.bit / 8, BitOffset: uint8(at.bit % 8),
			UncompressedOffset: at.out, Window: buf[:w0]}),
		flate.WithEobCallback(rec.record))
	for {
		buf = slices.Grow(buf, 64<<10)
		n, err := zr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		pos := base + int64(len(buf))
		if pos > d.limit {
			return at, match{}, false, fmt.Errorf("larger than %d bytes", d.limit)
		}
		// An end the output read so far has reached.
		for ; len(rec.ends) > 0 && rec.ends[0].out <= pos && !rec.broken; rec.ends = rec.ends[1:] {
			e := rec.ends[0]
			if m, ok := d.rejoin(e, buf[:e.out-base]); ok {
				d.text.add(buf[w0:e.out-base], -1)
				return e, m, false, nil
			}
		}
		switch {
		case err == io.EOF:
			if in.Len() != 0 {
				return at, match{}, false, fmt.Errorf("the deflate stream ends %d bytes before the gzip trailer", in.Len())
			}
			d.text.add(buf[w0:], -1)
			return at, match{}, true, nil
		case err != nil:
			return at, match{}, false, err
		}
	}
}

// rejoin returns a block end of the previous stream with the same window
// as the new stream has at its block end e (before: the new text up to e,
// at least its last min(e.out, window) bytes) and the same bits after it
// up to a later block end or to the ends of both.
func (d *likeDecoder) rejoin(e blockEnd, before []byte) (match, bool) {
	w := min(e.out, window)
	for _, pi := range d.byKey[endKey(d.stream, e.bit)] {
		p := d.prev.ends[pi]
		if min(p.out, window) != w || !bytes.Equal(before[int64(len(before))-w:], d.prev.plain[p.out-w:p.out]) {
			continue
		}
		if m := d.reach(e, pi); m.toEnd || m.q.bit > p.bit {
			return m, true
		}
	}
	return match{}, false
}
