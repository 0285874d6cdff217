package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// A round that adds one package to a 20 000-package index changes one
// chunk of its Packages.gz (apt.Index writes independently compressed
// chunks), and a few of its Contents-<arch>.gz (one per place its files
// sort to): the new file shares its deflate stream with the previous one
// but for those chunks. Decoding the previous file, which the signer does
// anyway, records the state of the decoder at the end of each deflate
// block; the new file is then decoded only from the last such state within
// the bytes both share to the first of its block ends where it has the
// same 32 KiB window as the previous file at one of its block ends and the
// same bits after it up to a later one (or to both ends), and so on to its
// end (decodeLike). Deflate decoding is a function of the bits read and
// the window, so what it skips decodes as the previous file did. Any file
// aptq does not write this way is decoded whole.

// gzipHeaderSize is that of the only header the fast path reads: no name, comment,
// extra field or header CRC (FLG 0), so the deflate stream starts at byte
// 10. The modification time, XFL and OS bytes are not looked at.
const gzipHeaderSize = 10

// window is deflate's history: the most a back-reference reaches.
const window = 32 << 10

// blockEnd is where a deflate block of a stream ends: after bit, the output
// holds out bytes.
type blockEnd struct{ bit, out int64 }

// endRecorder records where the deflate blocks read from in end. The
// decoder's checkpoints count a stored block's bytes twice (klauspost/compress
// v1.20.4: dataBlock adds the bytes already in its bit buffer to its offset
// again), so the offsets are corrected by what in says was consumed: after
// a stored block the decoder holds no bits, and the correction is the
// largest difference seen at a byte-aligned end (TestBlockEndsResume guards
// this against an upgrade that changes it).
type endRecorder struct {
	in         *bytes.Reader
	base, size int64 // in reads the stream from byte base on, size bytes
	extra      int64 // bytes counted twice so far
	ends       []blockEnd
	broken     bool // an end that cannot be where the decoder is: use none
}

func (r *endRecorder) record(cp flate.InflateCheckpoint) {
	if cp.Final {
		return // the stream's end, not a place to resume from
	}
	read := r.base + r.size - int64(r.in.Len())
	if cp.BitOffset == 0 {
		r.extra = max(r.extra, cp.CompressedOffset-read)
	}
	bit := (cp.CompressedOffset-r.extra)*8 + int64(cp.BitOffset)
	if bit > read*8 || bit < read*8-64 {
		r.broken = true
	}
	r.ends = append(r.ends, blockEnd{bit: bit, out: cp.UncompressedOffset})
}

// gzipTrace is a decoded Packages.gz of the previous generation: its
// deflate stream, what it decodes to and where its blocks end.
type gzipTrace struct {
	deflate []byte
	plain   []byte
	ends    []blockEnd
}

// deflateOf returns the deflate stream of a single-member gzip file with a
// plain header, or false.
func deflateOf(data []byte) ([]byte, bool) {
	if len(data) < gzipHeaderSize+8 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 || data[3] != 0 {
		return nil, false
	}
	return data[gzipHeaderSize : len(data)-8], true
}

// traceGzip decompresses a Packages.gz up to limit bytes (sizeHint: its
// listed size, to allocate once), recording where its deflate blocks end.
// A file of another shape is decompressed without a trace (nil).
//
// Its chunks are independently compressed, so the half from the first
// chunk boundary (a sync flush) after the middle is decoded on another CPU
// without the window before it: decoding it alone fails if any of it
// refers back across the boundary, and the first half must end a block
// exactly there. If either does not hold, the file is decoded in one go.
func traceGzip(data []byte, limit, sizeHint int64) ([]byte, *gzipTrace, error) {
	stream, ok := deflateOf(data)
	if !ok {
		plain, err := decompress(gzName, data, limit, sizeHint)
		return plain, nil, err
	}
	buf := make([]byte, 0, min(max(sizeHint, 0), limit))
	t := &gzipTrace{deflate: stream}
	var err error
	if split := syncPointAfter(stream, len(stream)/2); split > 0 {
		var second []byte
		var secondEnds []blockEnd
		var secondErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			// About the part of the output its part of the stream is, so
			// that the buffer is not grown (and copied) a dozen times.
			hint := min(max(sizeHint, 0), limit) / int64(len(stream)) * int64(len(stream)-split) * 9 / 8
			second, secondEnds, secondErr = inflateSegment(stream, split, len(stream), make([]byte, 0, hint), limit)
		}()
		t.plain, t.ends, err = inflateSegment(stream, 0, split, buf, limit)
		<-done
		if err == nil && secondErr == nil && int64(len(t.plain)+len(second)) <= limit {
			for _, e := range secondEnds {
				t.ends = append(t.ends, blockEnd{bit: e.bit, out: e.out + int64(len(t.plain))})
			}
			t.plain = append(t.plain, second...)
		} else {
			t.plain = nil
		}
	}
	if t.plain == nil {
		if t.plain, t.ends, err = inflateSegment(stream, 0, len(stream), buf[:0], limit); err != nil {
			return nil, nil, err
		}
	}
	if err := checkTrailer(data, t.plain); err != nil {
		// Not what aptq writes (e.g. more members follow): any reader
		// would see other bytes than the stream alone gives.
		plain, err := decompress(gzName, data, limit, sizeHint)
		return plain, nil, err
	}
	return t.plain, t, nil
}

// syncMarker ends a sync flush: the length fields of an empty stored block.
var syncMarker = []byte{0, 0, 0xff, 0xff}

// syncPointAfter returns the offset just after the first sync flush marker
// at or after from, or 0. The bytes may also occur inside a block: the
// caller checks that a block ends there.
func syncPointAfter(stream []byte, from int) int {
	i := bytes.Index(stream[from:], syncMarker)
	if i < 0 || from+i+len(syncMarker) >= len(stream) {
		return 0
	}
	return from + i + len(syncMarker)
}

// inflateSegment decodes stream[from:to] from a block boundary at byte from
// with no window, appending to dst, up to limit bytes. The segment must end
// where the stream does (after its final block, with nothing left) or, if
// to is before that, exactly at the end of a block. It returns the output
// and where its blocks end, the output offsets counted from from.
func inflateSegment(stream []byte, from, to int, dst []byte, limit int64) ([]byte, []blockEnd, error) {
	in := bytes.NewReader(stream[from:to]) // a ByteReader: the decoder reads no further than it needs
	rec := &endRecorder{in: in, base: int64(from), size: int64(to - from)}
	zr := flate.NewReaderOpts(in, flate.WithResumeFrom(flate.InflateCheckpoint{CompressedOffset: int64(from)}),
		flate.WithEobCallback(rec.record))
	out := bytes.NewBuffer(dst)
	out.Grow(bytes.MinRead)
	_, err := out.ReadFrom(io.LimitReader(zr, limit+1))
	switch {
	case int64(out.Len()) > limit:
		return nil, nil, fmt.Errorf("larger than %d bytes", limit)
	case rec.broken:
		return nil, nil, errors.New("the decoder's block ends do not add up")
	case to == len(stream) && err == nil && in.Len() == 0:
		return out.Bytes(), rec.ends, nil
	case to < len(stream) && errors.Is(err, io.ErrUnexpectedEOF) && len(rec.ends) > 0 &&
		rec.ends[len(rec.ends)-1] == blockEnd{bit: int64(to) * 8, out: int64(out.Len())}:
		return out.Bytes(), rec.ends, nil
	case err != nil:
		return nil, nil, err
	default:
		return nil, nil, fmt.Errorf("the deflate stream ends %d bytes before the gzip trailer", in.Len())
	}
}

// checkTrailer checks a gzip file's CRC-32 and size against its text (in
// pieces).
func checkTrailer(data []byte, pieces ...[]byte) error {
	var crc uint32
	size := 0
	for _, p := range pieces {
		crc = crc32.Update(crc, crc32.IEEETable, p)
		size += len(p)
	}
	trailer := data[len(data)-8:]
	if binary.LittleEndian.Uint32(trailer) != crc || binary.LittleEndian.Uint32(trailer[4:]) != uint32(size) {
		return errors.New("its gzip trailer (CRC-32 and size) does not match its content")
	}
	return nil
}

// sameGzip checks that a new Packages.gz decompresses to want, decoding
// only the part of it that differs from prev (see the top of this file).
func sameGzip(data, stream, want []byte, prev *gzipTrace) error {
	if err := checkTrailer(data, want); err != nil {
		return err
	}
	t, err := decodeLike(stream, prev, int64(len(want)))
	if err != nil {
		return err
	}
	if !t.equal(want) {
		return errors.New("it decodes to other bytes than the Packages the round's changes give")
	}
	return nil
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]); i += 8 {
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n && binary.LittleEndian.Uint64(a[len(a)-i-8:]) == binary.LittleEndian.Uint64(b[len(b)-i-8:]); i += 8 {
	}
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}

// checkGzip checks that a new Packages.gz decompresses to want (whose
// SHA256 is wantSum): from where it differs from the previous one when
// that one was traced, else whole.
func checkGzip(data, want []byte, wantSum [sha256.Size]byte, prev *gzipTrace) error {
	if stream, ok := deflateOf(data); ok && prev != nil {
		return sameGzip(data, stream, want, prev)
	}
	got, err := digestGzip(data, int64(len(want)))
	if err != nil {
		return err
	}
	if got.size != int64(len(want)) || got.sha256 != wantSum {
		return fmt.Errorf("%d bytes with SHA256 %x, not the %d bytes with SHA256 %x they give", got.size, got.sha256, len(want), wantSum)
	}
	return nil
}
