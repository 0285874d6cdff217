package mirror

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"

	"github.com/aptq/aptq/apt"
)

// Entry is one package a source index lists: what aptq needs to fetch,
// check and place it.
type Entry struct {
	Component                      string
	Package, Version, Architecture string
	// Filename is the pool file's path relative to the repository root,
	// checked with CheckPath.
	Filename string
	Size     int64
	SHA256   string
}

// indexWindow bounds the decoder history of a compressed index: xz -9
// uses 64 MiB, as does zstd --long.
const indexWindow = 64 << 20

// ReadIndex reads one index the Release lists, checks its size and SHA256
// against the Release before parsing a byte of it, and calls each for every
// entry, in file order. Every stanza is checked (see ParsePackages); a
// stanza of another architecture than the index's (or "all") is an error.
func (s *Source) ReadIndex(ctx context.Context, ix Index, each func(Entry) error) error {
	l := s.Limits.withDefaults()
	name := "dists/" + s.Dist + "/" + ix.File.Path
	if ix.File.Size > l.MaxIndex {
		return fmt.Errorf("%s: the Release says %d bytes, more than the %d allowed", name, ix.File.Size, l.MaxIndex)
	}
	data, err := s.read(ctx, name, ix.File.Size)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != ix.File.Size || hex.EncodeToString(sum[:]) != ix.File.SHA256 {
		return fmt.Errorf("%w: %s: %d bytes with SHA256 %x, the Release says %d bytes with SHA256 %s",
			ErrIntegrity, name, len(data), sum, ix.File.Size, ix.File.SHA256)
	}
	plain, release, err := apt.Decompressor(path.Ext(ix.File.Path), bytes.NewReader(data), indexWindow)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer release()
	err = ParsePackages(io.LimitReader(plain, l.MaxIndexPlain+1), l, func(e Entry) error {
		if e.Architecture != ix.Arch && e.Architecture != apt.ArchAll {
			return fmt.Errorf("package %s %s is %s, which does not belong in binary-%s", e.Package, e.Version, e.Architecture, ix.Arch)
		}
		e.Component = ix.Component
		return each(e)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// errTooLarge reports a plain index past Limits.MaxIndexPlain; the reader
// given to ParsePackages is cut one byte past it.
var errTooLarge = errors.New("larger than allowed")

// ParsePackages reads a Packages file (stanzas separated by blank lines)
// and calls each with every entry. Each stanza is parsed with
// apt.ParseParagraph and must name a valid Package, Version and
// Architecture, a Filename that CheckPath accepts, a positive Size and a
// SHA256; a stanza longer than l.MaxStanza, more than l.MaxEntries stanzas,
// or more than l.MaxIndexPlain bytes are errors.
func ParsePackages(r io.Reader, l Limits, each func(Entry) error) error {
	l = l.withDefaults()
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		stanza  []byte
		line    = 1 // of the stanza's start, for error messages
		n       int // lines read
		entries int
		total   int64
	)
	flush := func() error {
		if len(bytes.TrimSpace(stanza)) == 0 {
			stanza = stanza[:0]
			return nil
		}
		entries++
		if entries > l.MaxEntries {
			return fmt.Errorf("more than %d entries", l.MaxEntries)
		}
		e, err := parseEntry(stanza)
		if err != nil {
			return fmt.Errorf("stanza at line %d: %w", line, err)
		}
		stanza = stanza[:0]
		return each(e)
	}
	for {
		chunk, err := br.ReadSlice('\n')
		total += int64(len(chunk))
		if total > l.MaxIndexPlain {
			return fmt.Errorf("uncompressed index %w (%d bytes)", errTooLarge, l.MaxIndexPlain)
		}
		if len(stanza)+len(chunk) > l.MaxStanza {
			return fmt.Errorf("stanza at line %d is longer than %d bytes", line, l.MaxStanza)
		}
		stanza = append(stanza, chunk...)
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			if err == nil {
				n++
				if len(bytes.TrimSpace(chunk)) == 0 {
					if ferr := flush(); ferr != nil {
						return ferr
					}
					line = n + 1
				}
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			return flush()
		}
		return err
	}
}

// parseEntry checks one stanza and extracts what import needs.
func parseEntry(stanza []byte) (Entry, error) {
	p, err := apt.ParseParagraph(stanza)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{
		Package:      p.Get("Package"),
		Version:      p.Get("Version"),
		Architecture: p.Get("Architecture"),
		Filename:     p.Get("Filename"),
		SHA256:       p.Get("SHA256"),
	}
	if err := apt.CheckPackageName(e.Package); err != nil {
		return Entry{}, err
	}
	if err := apt.CheckVersion(e.Version); err != nil {
		return Entry{}, fmt.Errorf("package %s: %w", e.Package, err)
	}
	if err := apt.CheckArchitecture(e.Architecture); err != nil {
		return Entry{}, fmt.Errorf("package %s: %w", e.Package, err)
	}
	if err := CheckPath(e.Filename); err != nil {
		return Entry{}, fmt.Errorf("package %s: Filename: %w", e.Package, err)
	}
	if e.Size, err = strconv.ParseInt(p.Get("Size"), 10, 64); err != nil || e.Size <= 0 {
		return Entry{}, fmt.Errorf("package %s: Size %q is not a positive number", e.Package, truncate(p.Get("Size")))
	}
	if len(e.SHA256) != 64 || !isLowerHex(e.SHA256) {
		return Entry{}, fmt.Errorf("package %s: SHA256 %q is not 64 lowercase hex digits", e.Package, truncate(e.SHA256))
	}
	return e, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
