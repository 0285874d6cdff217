package verify

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aptq/aptq/apt"
)

// lines walks a Contents text line by line.
type lines struct {
	text    []byte     // what is left to walk
	skipped func() int // the lines of the whole text before text, counted for an error only (nil: none)
	n       int        // the lines walked, line included
	line    []byte
	path    []byte // nil at the end
}

// no is the line number of line in the whole text.
func (l *lines) no() int {
	if l.skipped == nil {
		return l.n
	}
	return l.skipped() + l.n
}

// next moves to the next line.
func (l *lines) next() error {
	l.line, l.path = nil, nil
	if len(l.text) == 0 {
		return nil
	}
	l.n++
	end := bytes.IndexByte(l.text, '\n')
	if end < 0 {
		return fmt.Errorf("line %d: no newline at the end", l.no())
	}
	l.line, l.text = l.text[:end], l.text[end+1:]
	tab := bytes.IndexByte(l.line, '\t')
	if tab < 0 {
		return fmt.Errorf("line %d: no tab", l.no())
	}
	l.path = l.line[:tab]
	return nil
}

func countLines(text []byte) int { return bytes.Count(text, []byte{'\n'}) }

// span is a run of whole lines the new text has as the previous one has
// them: the new text's bytes a to a+n are the previous text's b to b+n.
type span struct{ a, b, n int }

// unchangedSpans returns the runs of whole lines that the new text copies
// from the previous one (after.prev), in the order of both texts.
func unchangedSpans(after *likeText) []span {
	before := after.prev
	var out []span
	pos, nextB := 0, 0 // where the part starts in after; where the last span ends in before
	lineStart := true  // at pos in after
	for _, p := range after.parts {
		a := pos
		pos += len(p.data)
		atStart := lineStart
		lineStart = p.data[len(p.data)-1] == '\n'
		if p.at < nextB {
			continue // decoded, or out of order
		}
		// From the part's first line start in both texts to its last
		// line end (the part is the same bytes in both).
		s := 0
		if !atStart || (p.at > 0 && before[p.at-1] != '\n') {
			if s = bytes.IndexByte(p.data, '\n') + 1; s == 0 {
				continue
			}
		}
		if e := bytes.LastIndexByte(p.data, '\n') + 1; e > s {
			out = append(out, span{a: a + s, b: p.at + s, n: e - s})
			nextB = p.at + e
		}
	}
	return out
}

// pathAt returns the path of the line of text that starts at i, which an
// unchanged line (checked when the previous generation was signed) has.
func pathAt(text []byte, i int) []byte {
	line := text[i:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	path, _, _ := bytes.Cut(line, []byte{'\t'})
	return path
}

// findLine returns where the line of text (whole lines, sorted by path)
// whose path is p starts and the line; -1 if none has it.
func findLine(text []byte, p string) (int, []byte) {
	lo, hi := 0, len(text) // both at line starts
	for lo < hi {
		m := lo + (hi-lo)/2
		start := lo + bytes.LastIndexByte(text[lo:m], '\n') + 1
		end := len(text)
		if i := bytes.IndexByte(text[start:], '\n'); i >= 0 {
			end = start + i
		}
		switch c := bytes.Compare(pathAt(text, start), []byte(p)); {
		case c == 0:
			return start, text[start:end]
		case c < 0:
			lo = end + 1
		default:
			hi = start
		}
	}
	return -1, nil
}

// contentsWalk is the state of diffContents's walk.
type contentsWalk struct {
	added, allowed map[string][]string
	touched        map[string]bool
	fresh          bool
	listed         map[string][]string // the new names of the paths the round adds files at
	last           []byte              // the path of the new text's last line so far
}

// diffContents walks both texts in path order and checks each (path,
// name) pair that differs: a new one must be allowed (added, or listed by
// the component's previous index for a new index). The runs of lines the
// new text copies from the previous one (see unchangedSpans) are not
// walked: signed, each of their lines was checked (canonical, parsed) when
// its generation was signed; the walk checks that the lines between them
// keep the order. In a fresh index (Contents just turned on) it checks
// only that the additions are listed. The new text must be in canonical
// order.
func diffContents(after likeText, added, allowed map[string][]string, touched map[string]bool, fresh bool) error {
	before := after.prev
	w := &contentsWalk{added: added, allowed: allowed, touched: touched, fresh: fresh, listed: map[string][]string{}}
	spans := unchangedSpans(&after)
	aPos, bPos := 0, 0 // where the walk goes on in each text
	for _, s := range append(spans, span{a: after.size, b: len(before)}) {
		skippedA, skippedB := aPos, bPos
		b := &lines{text: before[bPos:s.b], skipped: func() int { return countLines(before[:skippedB]) }}
		a := &lines{text: after.slice(aPos, s.a), skipped: func() int { return countLines(after.slice(0, skippedA)) }}
		if err := w.walk(b, a); err != nil {
			return err
		}
		if s.n == 0 {
			continue
		}
		if first := pathAt(before, s.b); w.last != nil && bytes.Compare(w.last, first) >= 0 {
			return fmt.Errorf("line %d: %q is not after %q", countLines(after.slice(0, s.a))+1, first, w.last)
		}
		w.last = pathAt(before, s.b+bytes.LastIndexByte(before[s.b:s.b+s.n-1], '\n')+1)
		aPos, bPos = s.a+s.n, s.b+s.n
	}
	return w.listsAdded(before, spans)
}

// walk walks the lines of both texts between two unchanged runs.
func (w *contentsWalk) walk(b, a *lines) error {
	if err := cmp.Or(b.next(), a.next()); err != nil {
		return err
	}
	for b.path != nil || a.path != nil {
		order := 0 // < 0: the path is only before, > 0: only after
		switch {
		case a.path == nil:
			order = -1
		case b.path == nil:
			order = 1
		default:
			order = bytes.Compare(b.path, a.path)
		}
		if order >= 0 {
			if w.last != nil && bytes.Compare(w.last, a.path) >= 0 {
				return fmt.Errorf("line %d: %q is not after %q", a.no(), a.path, w.last)
			}
			w.last = a.path
		}
		if order == 0 && bytes.Equal(b.line, a.line) {
			if _, ok := w.added[string(a.path)]; ok {
				is, err := apt.ParseContentsLine(a.line)
				if err != nil {
					return fmt.Errorf("line %d: %w", a.no(), err)
				}
				w.listed[is.Path] = is.Names
			}
			if err := cmp.Or(b.next(), a.next()); err != nil {
				return err
			}
			continue
		}
		var was, is apt.ContentsLine
		var err error
		if order <= 0 {
			if was, err = apt.ParseContentsLine(b.line); err != nil {
				return fmt.Errorf("the previous index, line %d: %w", b.no(), err)
			}
		}
		if order >= 0 {
			if is, err = apt.ParseContentsLine(a.line); err != nil {
				return fmt.Errorf("line %d: %w", a.no(), err)
			}
			if _, ok := w.added[is.Path]; ok {
				w.listed[is.Path] = is.Names
			}
		}
		p := cmp.Or(is.Path, was.Path)
		for _, q := range is.Names {
			if !w.fresh && !slices.Contains(was.Names, q) && !slices.Contains(w.allowed[p], q) {
				return fmt.Errorf("lists %s under %s, which no package the round adds holds", p, q)
			}
		}
		for _, q := range was.Names {
			if !slices.Contains(is.Names, q) && !w.touched[q[strings.LastIndexByte(q, '/')+1:]] {
				return fmt.Errorf("drops %s from %s, of which the round neither adds nor removes a version", p, q)
			}
		}
		if order <= 0 {
			err = b.next()
		}
		if order >= 0 {
			err = cmp.Or(err, a.next())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listsAdded checks that the new text lists every file the round adds:
// listed has the names of the paths of the lines walked, and the others
// are looked up in the unchanged runs (a new version of a package with the
// files of the previous one changes no line).
func (w *contentsWalk) listsAdded(before []byte, spans []span) error {
	for _, p := range slices.Sorted(maps.Keys(w.added)) {
		if _, ok := w.listed[p]; !ok {
			at, line := findLine(before, p)
			i := sort.Search(len(spans), func(i int) bool { return spans[i].b+spans[i].n > at })
			if at >= 0 && i < len(spans) && spans[i].b <= at {
				is, err := apt.ParseContentsLine(line)
				if err != nil {
					return fmt.Errorf("the previous index, line %d: %w", countLines(before[:at])+1, err)
				}
				w.listed[p] = is.Names
			}
		}
		for _, q := range w.added[p] {
			if !slices.Contains(w.listed[p], q) {
				return fmt.Errorf("does not list %s under %s, which the round adds", p, q)
			}
		}
	}
	return nil
}
