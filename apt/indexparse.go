package apt

import (
	"bytes"
	"fmt"
)

// ParseIndex reads back a Packages file that NewIndex or Apply rendered, so
// that a signer can apply a round's changes to the index it last signed with
// the same code the worker runs (Apply) and compare the result with what the
// server generated. Stanzas must be in index order, each ended by a blank
// line, with the Package, Version and Architecture fields the renderer
// writes; anything else is an error, because the file then is not one this
// package produced.
func ParseIndex(component, arch string, plain []byte) (*Index, error) {
	if err := checkComponent(component); err != nil {
		return nil, err
	}
	if err := checkArchitecture(arch); err != nil {
		return nil, fmt.Errorf("architecture: %w", err)
	}
	var items []*item
	for off := 0; off < len(plain); {
		n := bytes.Index(plain[off:], []byte("\n\n"))
		if n < 0 {
			return nil, fmt.Errorf("%s/binary-%s: stanza at byte %d is not ended by a blank line", component, arch, off)
		}
		text := plain[off : off+n+2 : off+n+2]
		it, err := parseItem(arch, text)
		if err != nil {
			return nil, fmt.Errorf("%s/binary-%s: stanza at byte %d: %w", component, arch, off, err)
		}
		if len(items) > 0 && compareItems(items[len(items)-1], it) >= 0 {
			return nil, fmt.Errorf("%s/binary-%s: %s %s %s is out of order", component, arch, it.name, it.version, it.arch)
		}
		items = append(items, it)
		off += n + 2
	}
	return newIndex(component, arch, items, plain, nil), nil
}

// parseItem extracts the sort key of a rendered stanza.
func parseItem(arch string, text []byte) (*item, error) {
	it := &item{text: text}
	// The renderer writes these three first (see fieldOrder).
	for rest := text; len(rest) > 0 && (it.name == "" || it.version == "" || it.arch == ""); {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		rest = next
		name, value, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		switch string(name) {
		case "Package":
			it.name = string(value)
		case "Version":
			it.version = string(value)
		case "Architecture":
			it.arch = string(value)
		}
	}
	if it.name == "" || it.version == "" || it.arch == "" {
		return nil, fmt.Errorf("Package, Version and Architecture are required")
	}
	if err := it.key(arch); err != nil {
		return nil, err
	}
	return it, nil
}

// ArchAllPackages returns the stanzas of the index's Architecture: all
// packages, in order: what the index of another architecture of the same
// component holds before its own packages (a new one, say).
func (ix *Index) ArchAllPackages() []byte {
	var out []byte
	for _, it := range ix.items {
		if it.arch == ArchAll {
			out = append(out, it.text...)
		}
	}
	return out
}

// Packages returns the uncompressed Packages file; the caller must not
// modify it.
func (ix *Index) Packages() []byte { return ix.plain }
