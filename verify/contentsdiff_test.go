package verify

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
)

// setDiffContents is the Contents check stated on whole texts, as sets of
// (path, name) pairs: the new text is canonical, its new pairs are
// allowed (any, in a fresh index), its dropped pairs name a touched
// package, and it lists every added pair. before is canonical.
func setDiffContents(before, after []byte, added, allowed map[string][]string, touched map[string]bool, fresh bool) error {
	pairs := func(text []byte) (map[[2]string]bool, error) {
		ls, err := apt.ParseContents(text)
		out := map[[2]string]bool{}
		for _, l := range ls {
			for _, q := range l.Names {
				out[[2]string{l.Path, q}] = true
			}
		}
		return out, err
	}
	was, err := pairs(before)
	if err != nil {
		panic(err)
	}
	is, err := pairs(after)
	if err != nil {
		return err
	}
	for pq := range is {
		if !was[pq] && !fresh && !slices.Contains(allowed[pq[0]], pq[1]) {
			return fmt.Errorf("lists %s under %s", pq[0], pq[1])
		}
	}
	for pq := range was {
		if !is[pq] && !touched[pq[1][strings.LastIndexByte(pq[1], '/')+1:]] {
			return fmt.Errorf("drops %s from %s", pq[0], pq[1])
		}
	}
	for p, qs := range added {
		for _, q := range qs {
			if !is[[2]string{p, q}] {
				return fmt.Errorf("does not list %s under %s", p, q)
			}
		}
	}
	return nil
}

// contentsEdit is a random previous Contents text, a new one made from it
// by line edits (some of which break the canonical form), and the new
// text as decodeLike tells it: runs of kept lines copied from the previous
// text (cut at random bytes), the rest decoded.
type contentsEdit struct {
	before, after []byte
	text          likeText
}

func randomContentsEdit(rng *rand.Rand) contentsEdit {
	names := []string{"a", "admin/b", "c", "utils/d", "e"}
	randomNames := func() string {
		var qs []string
		for _, q := range names {
			if rng.IntN(3) == 0 {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			qs = names[rng.IntN(len(names)):][:1]
		}
		slices.Sort(qs)
		return strings.Join(qs, ",")
	}
	var before []byte
	for i := range 40 {
		if rng.IntN(2) == 0 {
			before = fmt.Appendf(before, "usr/p%02d\t%s\n", i, randomNames())
		}
	}
	e := contentsEdit{before: before, text: likeText{prev: before}}
	var decodedLine []byte
	emit := func(line []byte, at int) {
		e.after = append(e.after, line...)
		if at < 0 {
			decodedLine = append(decodedLine, line...)
			return
		}
		e.text.add(decodedLine, -1)
		decodedLine = nil
		// A copy cut at a random byte, as block ends fall.
		cut := rng.IntN(len(line) + 1)
		e.text.add(line[:cut], at)
		e.text.add(line[cut:], at+cut)
	}
	at := 0
	rate := 5 + rng.IntN(100) // one line in rate is edited, on average
	for len(before[at:]) > 0 {
		end := at + bytes.IndexByte(before[at:], '\n') + 1
		line := before[at:end]
		path, _, _ := bytes.Cut(line, []byte{'\t'})
		switch rng.IntN(rate) {
		case 0: // dropped
		case 1: // other names
			emit(fmt.Appendf(nil, "%s\t%s\n", path, randomNames()), -1)
		case 2: // a new path after it
			emit(line, at)
			emit(fmt.Appendf(nil, "%s5\t%s\n", path, randomNames()), -1)
		case 3: // not canonical: twice, unsorted names, no tab
			emit(line, at)
			emit([][]byte{line, fmt.Appendf(nil, "%s\te,a\n", path), fmt.Appendf(nil, "%s5 a\n", path)}[rng.IntN(3)], -1)
		case 4: // not canonical: swapped with the next line
			next := end + bytes.IndexByte(before[end:], '\n') + 1
			if next > end {
				emit(before[end:next], -1)
				emit(line, -1)
				end = next
				break
			}
			emit(line, at)
		default:
			emit(line, at)
		}
		at = end
	}
	if rng.IntN(20) == 0 { // no newline at the end
		e.after = append(e.after, "usr/z\ta"...)
		decodedLine = append(decodedLine, "usr/z\ta"...)
	}
	e.text.add(decodedLine, -1)
	return e
}

// TestDiffContentsLikeSets: on random edits of a Contents text, told as
// decodeLike tells them and as a whole decode does, diffContents refuses
// exactly what the check stated on whole texts refuses: the walk over the
// lines between copied runs accepts nothing the full walk refused.
func TestDiffContentsLikeSets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	refused := 0
	for i := range 5000 {
		e := randomContentsEdit(rng)
		require.Equal(t, e.after, e.text.slice(0, e.text.size), "case %d: the parts tell the text", i)
		added, touched := map[string][]string{}, map[string]bool{}
		lines := strings.SplitAfter(string(e.after), "\n")
		for range rng.IntN(4) {
			// Mostly pairs the new text lists, some it does not.
			p, qs, _ := strings.Cut(strings.TrimSuffix(lines[rng.IntN(len(lines))], "\n"), "\t")
			q := strings.Split(qs, ",")[0]
			if rng.IntN(4) == 0 {
				p, q = fmt.Sprintf("usr/p%02d", rng.IntN(40))+[]string{"", "5"}[rng.IntN(2)], "c"
			}
			added[p] = append(added[p], q)
		}
		all := rng.IntN(2) == 0 // every name touched, every listed pair allowed
		for _, q := range []string{"a", "b", "c", "d", "e"} {
			touched[q] = all || rng.IntN(2) == 0
		}
		allowed := added
		if all {
			allowed = maps.Clone(added)
			for _, l := range lines {
				p, qs, _ := strings.Cut(strings.TrimSuffix(l, "\n"), "\t")
				allowed[p] = append(allowed[p], strings.Split(qs, ",")...)
			}
		}
		fresh := rng.IntN(10) == 0
		want := setDiffContents(e.before, e.after, added, allowed, touched, fresh)
		if want != nil {
			refused++
		}
		for _, text := range []likeText{e.text, likeTextOf(e.before, e.after)} {
			got := diffContents(text, added, allowed, touched, fresh)
			require.Equal(t, want == nil, got == nil, "case %d: sets say %v, diffContents %v\nbefore:\n%s\nafter:\n%s", i, want, got, e.before, e.after)
		}
	}
	require.Greater(t, refused, 1000)
	require.Less(t, refused, 4000)
}

// boundaryText tells after from before: before's first head bytes, mid
// decoded, before's bytes from tail on.
func boundaryText(before []byte, head int, mid string, tail int) likeText {
	t := likeText{prev: before}
	t.add(before[:head], 0)
	t.add([]byte(mid), -1)
	t.add(before[tail:], tail)
	return t
}

// TestDiffContentsBoundaries: the lines decoded between two copied runs
// must follow the run before and precede the run after; a run copied out
// of order is walked as decoded; a path the round adds found only in a
// copied line is listed.
func TestDiffContentsBoundaries(t *testing.T) {
	t.Parallel()
	before := []byte("usr/a\tx\nusr/b\tx\nusr/c\tx\nusr/d\tx\nusr/e\tx\n")
	const lineLen = 8
	touched := map[string]bool{"x": true, "y": true}
	added := map[string][]string{"usr/c2": {"y"}}
	// Allowed too: pairs the cases list out of order, so that the order
	// is what they fail on.
	allowed := map[string][]string{"usr/c2": {"y"}, "usr/a5": {"x"}, "usr/b": {"y"}, "usr/d5": {"x"}, "usr/d": {"x"}}
	cases := []struct {
		name string
		text likeText
		err  string
	}{
		{"in order", boundaryText(before, 2*lineLen, "usr/c\tx\nusr/c2\ty\n", 3*lineLen), ""},
		{"before the run before it", boundaryText(before, 2*lineLen, "usr/a5\tx\nusr/c2\ty\n", 3*lineLen),
			`line 3: "usr/a5" is not after "usr/b"`},
		{"the path of the run before it", boundaryText(before, 2*lineLen, "usr/b\ty\nusr/c2\ty\n", 3*lineLen),
			`line 3: "usr/b" is not after "usr/b"`},
		{"after the run after it", boundaryText(before, 2*lineLen, "usr/c2\ty\nusr/d5\tx\n", 3*lineLen),
			`line 5: "usr/d" is not after "usr/d5"`},
		{"the path of the run after it", boundaryText(before, 2*lineLen, "usr/c2\ty\nusr/d\tx\n", 3*lineLen),
			`line 5: "usr/d" is not after "usr/d"`},
		{"a run copied out of order", func() likeText {
			t := likeText{prev: before}
			t.add(before[3*lineLen:], 3*lineLen)
			t.add([]byte("usr/c2\ty\n"), -1)
			t.add(before[:3*lineLen], 0)
			return t
		}(), `line 3: "usr/c2" is not after "usr/e"`},
		{"added path missing", boundaryText(before, 2*lineLen, "usr/c\tx\n", 3*lineLen),
			"does not list usr/c2 under y, which the round adds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := diffContents(tc.text, added, allowed, touched, false)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
	// A new version of a package with the same files: its pairs are in
	// copied lines only, and found there (before the walked lines, after
	// them, or with nothing walked).
	for _, text := range []likeText{boundaryText(before, 0, "", 0), boundaryText(before, lineLen, "usr/b\tx,y\n", 2*lineLen),
		boundaryText(before, 4*lineLen, "usr/e\tx,y\n", 5*lineLen)} {
		allowed := map[string][]string{"usr/b": {"y"}, "usr/e": {"y"}}
		require.NoError(t, diffContents(text, map[string][]string{"usr/c": {"x"}, "usr/a": {"x"}}, allowed, touched, false))
		require.EqualError(t, diffContents(text, map[string][]string{"usr/c": {"y"}}, allowed, touched, false),
			"does not list usr/c under y, which the round adds")
	}
}
