package apt

import (
	"errors"
	"strings"
)

// version is a parsed Debian version; the strings alias the input, so
// parsing allocates nothing.
type version struct {
	epoch              int
	upstream, revision string
}

// parseVersion splits and validates a version as dpkg does (deb-version(7)):
// [epoch:]upstream[-revision], epoch decimal, upstream starting with a digit
// and made of alphanumerics and ".+~-:", revision of alphanumerics and ".+~".
// The errors are phrased for the person who wrote the version.
func parseVersion(s string) (version, error) {
	var v version
	if s == "" {
		return v, errors.New("version is empty")
	}
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if e == "" {
			return v, errors.New("epoch before ':' is empty")
		}
		// Nine digits keep the epoch inside an int32, as dpkg requires.
		if len(e) > 9 || strings.Trim(e, "0123456789") != "" {
			return v, errors.New("epoch before ':' must be a small decimal number")
		}
		for i := 0; i < len(e); i++ {
			v.epoch = v.epoch*10 + int(e[i]-'0')
		}
		s = rest
	}
	v.upstream = s
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.upstream, v.revision = s[:i], s[i+1:]
		if v.revision == "" {
			return v, errors.New("revision after the last '-' is empty")
		}
	}
	if v.upstream == "" {
		return v, errors.New("upstream version is empty")
	}
	if !isDigit(v.upstream[0]) {
		return v, errors.New("upstream version must start with a digit")
	}
	for i := 0; i < len(v.upstream); i++ {
		if c := v.upstream[i]; !isAlnum(c) && !strings.ContainsRune(".+~-:", rune(c)) {
			return v, errors.New(`upstream version may contain only letters, digits and ".+~-:"`)
		}
	}
	for i := 0; i < len(v.revision); i++ {
		if c := v.revision[i]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return v, errors.New(`revision may contain only letters, digits and ".+~"`)
		}
	}
	return v, nil
}

// compare orders two parsed versions as dpkg does.
func (v version) compare(w version) int {
	switch {
	case v.epoch < w.epoch:
		return -1
	case v.epoch > w.epoch:
		return 1
	}
	if c := verrevcmp(v.upstream, w.upstream); c != 0 {
		return c
	}
	return verrevcmp(v.revision, w.revision)
}

// CompareVersions orders two Debian versions as dpkg --compare-versions
// does: epoch first, then upstream version and revision, comparing runs of
// digits numerically (of any length) and everything else character by
// character, where '~' sorts before anything, even the end of the string,
// and letters sort before other characters. It returns -1, 0 or +1.
//
// Versions that do not parse sort before all valid ones, and among
// themselves byte-wise, so that sorting with CompareVersions is a total
// order even on bad data.
func CompareVersions(a, b string) int {
	va, errA := parseVersion(a)
	vb, errB := parseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.compare(vb)
}

// verrevcmp is dpkg's comparison of one version part (lib/dpkg/version.c).
// It is written out rather than taken from go-deb-version because sorting a
// large index calls it millions of times: the library allocates and runs
// regular expressions on every comparison, and it clamps digit runs longer
// than 19 digits, ordering e.g. long date stamps wrongly.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := charOrder(a, i), charOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// charOrder is dpkg's order(): '~' before the end of the string (and before
// digits, which end a non-digit run), letters before everything else.
func charOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch c := s[i]; {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
