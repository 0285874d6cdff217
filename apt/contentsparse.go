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
// anything else: lines sorted by path with no path twice, each a path
// (checked as file lists are), a tab and sorted, unique, comma-separated
// names without space or comma. A reader that accepts only the canonical
// form sees the same (path, package) pairs as apt-file, however it splits
// a line.
func ParseContents(text []byte) ([]ContentsLine, error) {
	var out []ContentsLine
	for n := 1; len(text) > 0; n++ {
		end := bytes.IndexByte(text, '\n')
		if end < 0 {
			return nil, fmt.Errorf("line %d: no newline at the end", n)
		}
		line := string(text[:end])
		text = text[end+1:]
		path, names, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: no tab", n)
		}
		if err := checkContentsPath(path); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if k := len(out); k > 0 && out[k-1].Path >= path {
			return nil, fmt.Errorf("line %d: %q is not after %q", n, truncate(path), truncate(out[k-1].Path))
		}
		l := ContentsLine{Path: path, Names: strings.Split(names, ",")}
		for i, q := range l.Names {
			if q == "" || strings.ContainsAny(q, " \t") || (i > 0 && l.Names[i-1] >= q) {
				return nil, fmt.Errorf("line %d: names %q are not sorted, unique and without space", n, truncate(names))
			}
		}
		out = append(out, l)
	}
	return out, nil
}
