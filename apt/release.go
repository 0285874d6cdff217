package apt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// releaseDate is the Date/Valid-Until format: RFC 1123 with a numeric zone,
// always UTC, as apt-ftparchive writes it.
const releaseDate = time.RFC1123Z

// ReleaseMeta is what a Release file says about its release, besides the
// list of index files.
type ReleaseMeta struct {
	Origin, Label, Suite, Codename, Version, Description string
	// Date is when the index was generated; written in UTC. The zero time
	// leaves the field out, which apt tolerates only without Valid-Until.
	Date time.Time
	// ValidUntil, if set, makes apt refuse the Release after that instant,
	// which bounds how long a replayed old Release can be served.
	ValidUntil time.Time
	// Generation is aptq's index number, written as "Aptq-Generation"
	// so that a Release found in S3 can be matched to its database round.
	Generation int64
	// KeepVersions is the release's retention, written as
	// "Aptq-Keep-Versions" when positive, so that a signer knows from the
	// previous signed generation the setting in force and sees any change
	// of it (0: keep all versions, the field left out).
	KeepVersions  int
	Architectures []string
	Components    []string
	// NotAutomatic makes apt pin the release at 1 (never installed unless
	// asked for); ButAutomaticUpgrades raises it to 100, so installed
	// packages follow its upgrades (backports).
	NotAutomatic, ButAutomaticUpgrades bool
	// SignedBy lists the fingerprints of the keys apt (>= 2.3) accepts for
	// the next Release of this suite.
	SignedBy string
}

// releaseSums are the checksum lists BuildRelease writes: MD5Sum and SHA256,
// as Debian's own archive does. apt fetches by-hash with the strongest
// listed algorithm, so the by-hash objects live under SHA256 only; SHA512
// would need a second copy of every file, and SHA1 adds nothing.
var releaseSums = []sumList{parsedSums[0], parsedSums[2]}

type sumList struct {
	field  string
	hexLen int
	sum    func(*IndexFile) *string
}

// parsedSums are the checksum lists ParseRelease understands, including the
// weak ones other tools still write, with the length of their hex digests.
var parsedSums = []sumList{
	{"MD5Sum", 32, func(f *IndexFile) *string { return &f.MD5 }},
	{"SHA1", 40, func(f *IndexFile) *string { return &f.SHA1 }},
	{"SHA256", 64, func(f *IndexFile) *string { return &f.SHA256 }},
	{"SHA512", 128, func(f *IndexFile) *string { return &f.SHA512 }},
}

// BuildRelease returns the exact bytes of dists/<release>/Release: Origin,
// Label, Suite, Codename, Version, Date, Valid-Until, Aptq-Generation,
// Aptq-Keep-Versions, Architectures, Components, Description (empty ones left out),
// "Acquire-By-Hash: yes", then the MD5Sum and SHA256 lists of files sorted
// by path, each line " <hex> <size> <path>" with the size right-aligned in
// 16 columns as apt-ftparchive writes it. A file without a given digest is
// left out of that list. The result is deterministic.
func BuildRelease(meta ReleaseMeta, files []IndexFile) []byte {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b IndexFile) int { return strings.Compare(a.Path, b.Path) })

	var p Paragraph
	add := func(name, value string) {
		if value != "" {
			p = append(p, Field{Name: name, Value: value})
		}
	}
	add("Origin", meta.Origin)
	add("Label", meta.Label)
	add("Suite", meta.Suite)
	add("Codename", meta.Codename)
	add("Version", meta.Version)
	if !meta.Date.IsZero() {
		add("Date", meta.Date.UTC().Format(releaseDate))
	}
	if !meta.ValidUntil.IsZero() {
		add("Valid-Until", meta.ValidUntil.UTC().Format(releaseDate))
	}
	if meta.NotAutomatic {
		add("NotAutomatic", "yes")
	}
	if meta.ButAutomaticUpgrades {
		add("ButAutomaticUpgrades", "yes")
	}
	add("Aptq-Generation", strconv.FormatInt(meta.Generation, 10))
	if meta.KeepVersions > 0 {
		add("Aptq-Keep-Versions", strconv.Itoa(meta.KeepVersions))
	}
	add("Architectures", strings.Join(meta.Architectures, " "))
	add("Components", strings.Join(meta.Components, " "))
	add("Description", meta.Description)
	add("Acquire-By-Hash", "yes")
	add("Signed-By", meta.SignedBy)
	b := p.AppendTo(make([]byte, 0, 512+len(sorted)*220))
	for _, s := range releaseSums {
		b = append(b, s.field...)
		b = append(b, ":\n"...)
		for i := range sorted {
			f := &sorted[i]
			if sum := *s.sum(f); sum != "" {
				b = fmt.Appendf(b, " %s %16d %s\n", sum, f.Size, f.Path)
			}
		}
	}
	return b
}

// Release is a parsed Release file.
type Release struct {
	Meta ReleaseMeta
	// Fields holds every field as written, including the checksum lists
	// and fields ReleaseMeta does not know.
	Fields Paragraph
	// Files lists every file of the checksum lists (MD5Sum, SHA1, SHA256,
	// SHA512), merged by path and sorted by path; Data is nil, digests a
	// list does not give are empty.
	Files []IndexFile
}

// ParseRelease parses a Release file (not InRelease: the signature must be
// checked and removed first). It is strict about what aptq relies on (the
// dates, Aptq-Generation, Aptq-Keep-Versions, the checksum lists) and keeps every other field
// in Fields.
func ParseRelease(data []byte) (*Release, error) {
	p, err := ParseParagraph(data)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	r := &Release{Fields: p, Meta: ReleaseMeta{
		Origin:        p.Get("Origin"),
		Label:         p.Get("Label"),
		Suite:         p.Get("Suite"),
		Codename:      p.Get("Codename"),
		Version:       p.Get("Version"),
		Description:   p.Get("Description"),
		Architectures: words(p.Get("Architectures")),
		Components:    words(p.Get("Components")),
	}}
	for _, d := range []struct {
		field string
		dst   *time.Time
	}{{"Date", &r.Meta.Date}, {"Valid-Until", &r.Meta.ValidUntil}} {
		if v := p.Get(d.field); v != "" {
			if *d.dst, err = parseReleaseDate(v); err != nil {
				return nil, fmt.Errorf("release: %s: %w", d.field, err)
			}
		}
	}
	if v := p.Get("Aptq-Generation"); v != "" {
		if r.Meta.Generation, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("release: Aptq-Generation %q is not a number", truncate(v))
		}
	}
	if v := p.Get("Aptq-Keep-Versions"); v != "" {
		if r.Meta.KeepVersions, err = strconv.Atoi(v); err != nil || r.Meta.KeepVersions < 0 {
			return nil, fmt.Errorf("release: Aptq-Keep-Versions %q is not a number of versions", truncate(v))
		}
	}
	if r.Files, err = parseSums(p); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return r, nil
}

// words splits a space-separated list; an empty list is nil, as in the
// ReleaseMeta it came from.
func words(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Fields(s)
}

// parseReleaseDate accepts the forms apt writes and reads: a numeric zone
// (+0000) or a zone name (UTC, GMT), and a day of one digit, which aptly
// writes ("Thu, 3 Dec 2026 06:51:44 UTC") and apt accepts.
func parseReleaseDate(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 1123 date", truncate(v))
}

// parseSums reads the checksum lists into one IndexFile per path.
func parseSums(p Paragraph) ([]IndexFile, error) {
	byPath := make(map[string]*IndexFile)
	for _, s := range parsedSums {
		v := p.Get(s.field)
		if v == "" {
			continue
		}
		for line := range strings.SplitSeq(v, "\n") {
			parts := strings.Fields(line)
			if len(parts) == 0 {
				continue
			}
			if len(parts) != 3 || len(parts[0]) != s.hexLen || !isLowerHex(parts[0]) {
				return nil, fmt.Errorf("%s: malformed line %q (want \"<hex> <size> <path>\")", s.field, truncate(line))
			}
			size, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil || size < 0 {
				return nil, fmt.Errorf("%s: bad size in %q", s.field, truncate(line))
			}
			f := byPath[parts[2]]
			if f == nil {
				f = &IndexFile{Path: parts[2], Size: size}
				byPath[parts[2]] = f
			}
			if f.Size != size {
				return nil, fmt.Errorf("%s: %s has size %d, another list says %d", s.field, f.Path, size, f.Size)
			}
			dst := s.sum(f)
			if *dst != "" {
				return nil, fmt.Errorf("%s: %s listed twice", s.field, f.Path)
			}
			*dst = parts[0]
		}
	}
	files := make([]IndexFile, 0, len(byPath))
	for _, f := range byPath {
		files = append(files, *f)
	}
	slices.SortFunc(files, func(a, b IndexFile) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}
