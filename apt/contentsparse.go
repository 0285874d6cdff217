package apt

import (
	"bytes"
	"fmt"
	"strings"
)

// ContentsLine is one line of a Contents index: a path and the qualified
// names of the packages that hold it, sorted.
type ContentsLine struct {
	Path  string
	Names []string
}

// ParseContents reads a Contents index as Contents renders it, and refuses
// anything else: lines sorted by path with no path twice, each one that
// ParseContentsLine accepts. A reader that accepts only the canonical
// form sees the same (path, package) pairs as apt-file, however it splits
// a line.
func ParseContents(text []byte) ([]ContentsLine, error) {
	var out []ContentsLine
	for n := 1; len(text) > 0; n++ {
		end := bytes.IndexByte(text, '\n')
		if end < 0 {
			return nil, fmt.Errorf("line %d: no newline at the end", n)
		}
		l, err := ParseContentsLine(text[:end])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		text = text[end+1:]
		if k := len(out); k > 0 && out[k-1].Path >= l.Path {
			return nil, fmt.Errorf("line %d: %q is not after %q", n, truncate(l.Path), truncate(out[k-1].Path))
		}
		out = append(out, l)
	}
	return out, nil
}

// ParseContentsLine reads one line (without its newline): a path (checked
// as file lists are), a tab and sorted, unique, comma-separated names
// without space or comma.
func ParseContentsLine(line []byte) (ContentsLine, error) {
	path, names, ok := strings.Cut(string(line), "\t")
	if !ok {
		return ContentsLine{}, fmt.Errorf("no tab")
	}
	if err := checkContentsPath(path); err != nil {
		return ContentsLine{}, err
	}
	l := ContentsLine{Path: path, Names: strings.Split(names, ",")}
	for i, q := range l.Names {
		if q == "" || strings.ContainsAny(q, " \t") || (i > 0 && l.Names[i-1] >= q) {
			return ContentsLine{}, fmt.Errorf("names %q are not sorted, unique and without space", truncate(names))
		}
	}
	return l, nil
}
