package verify

import (
	"fmt"

	"github.com/aptq/aptq/apt"
)

// foldEdits folds the round's changes into each component's net edits as
// the worker does (apt.EditFold), rendering each added package from its
// uploaded control paragraph.
func foldEdits(changes []Change) (map[string]apt.Edits, error) {
	var fold apt.EditFold
	for _, c := range changes {
		for _, a := range c.Adds {
			if a.Architecture == apt.ArchSource {
				continue // Sources: foldSources
			}
			control, err := apt.ParseParagraph([]byte(a.Control))
			if err != nil {
				return nil, fmt.Errorf("change %d adds %s: its control paragraph: %w", c.ID, a.SHA256, err)
			}
			p := apt.Package{Control: control, Filename: a.Filename, Size: a.Size,
				MD5: a.MD5, SHA1: a.SHA1, SHA256: a.SHA256, SHA512: a.SHA512}
			k := apt.PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}
			if k != (apt.PackageKey{Name: a.Name, Version: a.Version, Arch: a.Architecture}) {
				return nil, fmt.Errorf("change %d adds %s %s %s, but its control paragraph says %s %s %s",
					c.ID, a.Name, a.Version, a.Architecture, k.Name, k.Version, k.Arch)
			}
			fold.Add(a.Component, p)
		}
		for _, r := range c.Removes {
			fold.Remove(r.Component, apt.PackageKey{Name: r.Name, Version: r.Version, Arch: r.Architecture})
		}
	}
	return fold.Edits(), nil
}

// forIndex returns the edits of binary-<arch>: the additions of that
// architecture or all, and the removals, including the packages added, so
// that an addition replaces a package of the same name, version and
// architecture as a rebuild from the membership does. touched says
// whether any edit can change the index.
func forIndex(e apt.Edits, arch string) (adds []apt.Package, removes []apt.PackageKey, touched bool) {
	adds = apt.SplitByArch(e.Adds, []string{arch})[arch]
	removes = append(removes, e.Removes...)
	for i := range adds {
		removes = append(removes, apt.PackageKey{Name: adds[i].Name(), Version: adds[i].Version(), Arch: adds[i].Arch()})
	}
	for _, r := range e.Removes {
		if r.Arch == arch || r.Arch == apt.ArchAll {
			touched = true
		}
	}
	return adds, removes, touched || len(adds) > 0
}
