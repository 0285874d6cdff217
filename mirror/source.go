// Package mirror reads a published APT repository that aptq imports from
// (one aptly, reprepro, deb-s3 or apt-ftparchive wrote): its Release,
// authenticated with the user's keyring, the Packages indexes it lists,
// checked against it, and the pool files those list, checked as they
// stream. The source is untrusted input: every read is bounded, every path
// it names is checked before it becomes a URL, and nothing that fails a
// size or hash check is handed on whole.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound is what a Fetcher returns for a file the source does not have.
var ErrNotFound = errors.New("not found")

// ErrIntegrity is wrapped by every error about content that differs from
// what the signed Release, or an index it vouches for, says.
var ErrIntegrity = errors.New("integrity check failed")

// Fetcher reads the source repository's files by their path relative to
// its root (already checked with CheckPath).
type Fetcher interface {
	Open(ctx context.Context, rel string) (io.ReadCloser, error)
}

// Limits bound what a hostile source can make the reader hold or do.
// Zero fields take the defaults.
type Limits struct {
	// MaxRelease bounds InRelease, Release and Release.gpg.
	MaxRelease int64
	// MaxIndex bounds one index file as stored (compressed); it is held in
	// memory until its hash is checked.
	MaxIndex int64
	// MaxIndexPlain bounds one decompressed index; it is streamed.
	MaxIndexPlain int64
	// MaxStanza bounds one Packages stanza (and so one line of it).
	MaxStanza int
	// MaxEntries bounds the entries of one index.
	MaxEntries int
}

// DefaultLimits fit Debian's own main archive (about 65 000 packages per
// architecture, a 10 MiB Packages.xz, 50 MiB uncompressed) with room.
var DefaultLimits = Limits{
	MaxRelease:    16 << 20,
	MaxIndex:      512 << 20,
	MaxIndexPlain: 4 << 30,
	MaxStanza:     1 << 20,
	MaxEntries:    2_000_000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxRelease > 0 {
		d.MaxRelease = l.MaxRelease
	}
	if l.MaxIndex > 0 {
		d.MaxIndex = l.MaxIndex
	}
	if l.MaxIndexPlain > 0 {
		d.MaxIndexPlain = l.MaxIndexPlain
	}
	if l.MaxStanza > 0 {
		d.MaxStanza = l.MaxStanza
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	return d
}

// Source is one repository to read and the distribution to read from it.
type Source struct {
	Fetcher Fetcher
	// Dist is the distribution (dists/<Dist>), e.g. "bookworm".
	Dist string
	// Keyring holds the public keys (armored or binary) the Release must be
	// signed by; empty means nothing is authenticated.
	Keyring [][]byte
	Limits  Limits
}

// CheckPath reports whether rel is a path the reader may turn into a URL
// under the source's root: relative, made of non-empty segments other than
// "." and "..", of printable ASCII without spaces or backslashes. A hostile
// index cannot name a file outside the repository with one.
func CheckPath(rel string) error {
	if rel == "" || len(rel) > 1024 {
		return fmt.Errorf("path %q: empty or longer than 1024 bytes", truncate(rel))
	}
	for i := 0; i < len(rel); i++ {
		if c := rel[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fmt.Errorf("path %q: character %q is not allowed", truncate(rel), c)
		}
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q: must be relative, without empty, \".\" or \"..\" segments", truncate(rel))
		}
	}
	return nil
}

// read reads a whole file of at most limit bytes.
func (s *Source) read(ctx context.Context, rel string, limit int64) ([]byte, error) {
	if err := CheckPath(rel); err != nil {
		return nil, err
	}
	rc, err := s.Fetcher.Open(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, limit)
	}
	return data, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
