package apt

// Edits is what a round does to one component: packages to add and
// packages to remove, by name, version and architecture.
type Edits struct {
	Adds    []Package
	Removes []PackageKey
}

// EditFold folds a round's changes, in order (each change's additions, then
// its removals, as the commit applies them), into each component's net
// edits: the last change to name a package decides whether it is in or
// out. The worker builds the indexes from it and the signer checks them
// with it, so both must fold alike. The zero value is ready to use.
//
// A udeb is folded under InstallerComponent(component), the index
// component that lists it. A removal names no package type: it removes the
// package from both (the repository holds one content per name, version
// and architecture, so only one of them can list it).
type EditFold struct {
	last  map[foldKey]*Package // nil: removed
	order []foldKey
}

type foldKey struct {
	component string
	pkg       PackageKey
}

// Add records that p is added to component.
func (f *EditFold) Add(component string, p Package) {
	f.set(foldKey{IndexComponent(component, p.Control), PackageKey{Name: p.Name(), Version: p.Version(), Arch: p.Arch()}}, &p)
}

// Remove records that the binary package k is removed from component (and
// from its udebs' index); a source package's removal is not a Packages
// edit (the Sources index folds its own) and is ignored.
func (f *EditFold) Remove(component string, k PackageKey) {
	if k.Arch == ArchSource {
		return
	}
	f.set(foldKey{component, k}, nil)
	f.set(foldKey{InstallerComponent(component), k}, nil)
}

func (f *EditFold) set(k foldKey, p *Package) {
	if f.last == nil {
		f.last = map[foldKey]*Package{}
	}
	if _, seen := f.last[k]; !seen {
		f.order = append(f.order, k)
	}
	f.last[k] = p
}

// Edits returns each component's net edits, in the order the packages
// were first named.
// A component the round does not touch has the zero Edits.
func (f *EditFold) Edits() map[string]Edits {
	out := map[string]Edits{}
	for _, k := range f.order {
		e := out[k.component]
		if p := f.last[k]; p != nil {
			e.Adds = append(e.Adds, *p)
		} else {
			e.Removes = append(e.Removes, k.pkg)
		}
		out[k.component] = e
	}
	return out
}
