package verify

import (
	"fmt"

	"github.com/aptq/aptq/apt"
)

// edits is what a round does to one component, as the worker folds it:
// changes in order, each one's additions then its removals, the last to
// name a package deciding whether it is in or out.
type edits struct {
	adds    []apt.Package
	removes []apt.PackageKey
}

// foldEdits folds the round's changes into each component's net edits,
// rendering each added package from its uploaded control paragraph.
func foldEdits(changes []Change) (map[string]*edits, error) {
	type key struct {
		component string
		pkg       apt.PackageKey
	}
	last := map[key]*apt.Package{} // nil: removed
	var order []key
	set := func(k key, p *apt.Package) {
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = p
	}
	for _, c := range changes {
		for _, a := range c.Adds {
			if a.Architecture == apt.ArchSource {
				continue // Sources: foldSources
			}
			control, err := apt.ParseParagraph([]byte(a.Control))
			if err != nil {
				return nil, fmt.Errorf("change %d adds %s: its control paragraph: %w", c.ID, a.SHA256, err)
			}
			p := &apt.Package{Control: control, Filename: a.Filename, Size: a.Size,
				MD5: a.MD5, SHA1: a.SHA1, SHA256: a.SHA256, SHA512: a.SHA512}
			k := apt.PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}
			if k != (apt.PackageKey{Name: a.Name, Version: a.Version, Arch: a.Architecture}) {
				return nil, fmt.Errorf("change %d adds %s %s %s, but its control paragraph says %s %s %s",
					c.ID, a.Name, a.Version, a.Architecture, k.Name, k.Version, k.Arch)
			}
			set(key{a.Component, k}, p)
		}
		for _, r := range c.Removes {
			if r.Architecture == apt.ArchSource {
				continue
			}
			set(key{r.Component, apt.PackageKey{Name: r.Name, Version: r.Version, Arch: r.Architecture}}, nil)
		}
	}
	out := map[string]*edits{}
	for _, k := range order {
		e := out[k.component]
		if e == nil {
			e = &edits{}
			out[k.component] = e
		}
		if p := last[k]; p != nil {
			e.adds = append(e.adds, *p)
		} else {
			e.removes = append(e.removes, k.pkg)
		}
	}
	return out, nil
}

// forIndex returns the edits of binary-<arch>: the additions of that
// architecture or all, and the removals, including the packages added, so
// that an addition replaces a package of the same name, version and
// architecture as a rebuild from the membership does. touched says
// whether any edit can change the index.
func (e *edits) forIndex(arch string) (adds []apt.Package, removes []apt.PackageKey, touched bool) {
	if e == nil {
		return nil, nil, false
	}
	adds = apt.SplitByArch(e.adds, []string{arch})[arch]
	removes = append(removes, e.removes...)
	for i := range adds {
		removes = append(removes, apt.PackageKey{Name: adds[i].Name(), Version: adds[i].Version(), Arch: adds[i].Arch()})
	}
	for _, r := range e.removes {
		if r.Arch == arch || r.Arch == apt.ArchAll {
			touched = true
		}
	}
	return adds, removes, touched || len(adds) > 0
}
