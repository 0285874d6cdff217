package apt

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// arMagic starts every ar archive, and so every .deb (deb(5)).
const arMagic = "!<arch>\n"

// errTruncated reports input that ends inside a structure.
var errTruncated = errors.New("file is truncated")

// arReader reads the members of an ar archive from a stream, in order.
//
// It is written here rather than taken from github.com/blakesmith/ar because
// that reader trusts its input: it panics on a short mode field or a
// negative size, and it reads malformed numbers as zero. Here every header
// field that matters is validated and the input is never buffered.
type arReader struct {
	r         io.Reader
	remaining int64 // unread bytes of the current member
	pad       bool  // an odd-sized member is followed by one padding byte
}

// arHeader is the part of an ar member header (60 bytes: name, mtime, uid,
// gid, mode, size, "`\n") that a .deb reader needs.
type arHeader struct {
	name string
	size int64
}

func newARReader(r io.Reader) (*arReader, error) {
	var magic [len(arMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != arMagic {
		return nil, errors.New(`not a Debian binary package (no "!<arch>" ar header)`)
	}
	return &arReader{r: r}, nil
}

// next skips what is left of the current member and reads the next header.
// It returns io.EOF when the archive ends cleanly between members.
func (a *arReader) next() (arHeader, error) {
	skip := a.remaining
	if a.pad {
		skip++
	}
	if n, err := io.CopyN(io.Discard, a.r, skip); n < skip {
		return arHeader{}, truncatedOr(err)
	}
	a.remaining, a.pad = 0, false

	var h [60]byte
	if n, err := io.ReadFull(a.r, h[:]); err != nil {
		if n == 0 && err == io.EOF {
			return arHeader{}, io.EOF
		}
		return arHeader{}, truncatedOr(err)
	}
	if string(h[58:60]) != "`\n" {
		return arHeader{}, errors.New("corrupt ar member header (bad terminator)")
	}
	// GNU ar ends names with '/'; dpkg accepts both spellings.
	name := strings.TrimSuffix(strings.TrimRight(string(h[0:16]), " "), "/")
	sizeField := strings.TrimRight(string(h[48:58]), " ")
	size, err := strconv.ParseInt(sizeField, 10, 64)
	if err != nil || size < 0 || strings.Trim(sizeField, "0123456789") != "" {
		return arHeader{}, fmt.Errorf("corrupt ar member header (size %q)", sizeField)
	}
	a.remaining, a.pad = size, size%2 == 1
	return arHeader{name: name, size: size}, nil
}

// Read reads from the current member and returns io.EOF at its end.
func (a *arReader) Read(p []byte) (int, error) {
	if a.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remaining {
		p = p[:a.remaining]
	}
	n, err := a.r.Read(p)
	a.remaining -= int64(n)
	if err == io.EOF && a.remaining > 0 {
		err = errTruncated
	}
	return n, err
}

// truncatedOr maps an early end of input to errTruncated and passes other
// errors (those of the underlying reader) through.
func truncatedOr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}
