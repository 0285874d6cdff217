package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aptq/aptq/apt"
)

// retention is what the round says the release's retention removed, by
// component, and the setting it applied.
type retention struct {
	keep        int
	byComponent map[string][]Remove
	// added is what the round's changes add, by index component
	// (apt.IndexComponent: a udeb's is its debian-installer one).
	added map[string]map[apt.PackageKey]bool
}

// newRetention checks that the round's retention can apply at all: a
// setting that keeps something, and removals of the release's components
// and architectures (an index checks only its own).
func newRetention(r Round, next *apt.Release) (retention, error) {
	ret := retention{keep: r.KeepVersions, byComponent: map[string][]Remove{}, added: map[string]map[apt.PackageKey]bool{}}
	if len(r.Retention) == 0 {
		return ret, nil
	}
	for _, c := range r.Changes {
		for _, a := range c.Adds {
			comp := a.Component
			if apt.IsUdebControl(a.Control) {
				comp = apt.InstallerComponent(comp)
			}
			if ret.added[comp] == nil {
				ret.added[comp] = map[apt.PackageKey]bool{}
			}
			ret.added[comp][apt.PackageKey{Name: a.Name, Version: a.Version, Arch: a.Architecture}] = true
		}
	}
	if r.KeepVersions <= 0 {
		return ret, fmt.Errorf("the round's retention removes %d packages, but it keeps all versions (keep_versions %d)",
			len(r.Retention), r.KeepVersions)
	}
	for _, rm := range r.Retention {
		if !slices.Contains(next.Meta.Components, rm.Component) ||
			(rm.Architecture != apt.ArchAll && !slices.Contains(next.Meta.Architectures, rm.Architecture)) {
			return ret, fmt.Errorf("the round's retention removes %s %s %s from %s, which is not a component and architecture of the release",
				rm.Name, rm.Version, rm.Architecture, rm.Component)
		}
		ret.byComponent[rm.Component] = append(ret.byComponent[rm.Component], rm)
	}
	return ret, nil
}

// check verifies, on the Packages of binary-<arch> that the round gives
// (want), that each retention removal of component it shows leaves at
// least keep newer versions (dpkg order) of its name and architecture:
// retention drops only the oldest versions, never a package it should keep.
// A removal names no package type: the index checks it only if it listed
// the package before the round (prev) or a change of the round adds it
// there, so a udeb's is checked on its debian-installer index, a .deb's on
// binary-<arch> (the repository holds one content per name, version and
// architecture, so a package is of one type).
func (ret retention) check(component, arch string, prev, want []byte) error {
	removes := ret.byComponent[apt.ReleaseComponent(component)]
	if len(removes) == 0 {
		return nil
	}
	listed := stanzas(prev)
	versions := map[[2]string][]string{} // name, arch → versions listed
	for k := range stanzas(want) {
		parts := strings.SplitN(k, " ", 3)
		if len(parts) == 3 {
			versions[[2]string{parts[0], parts[2]}] = append(versions[[2]string{parts[0], parts[2]}], parts[1])
		}
	}
	for _, rm := range removes {
		if rm.Architecture != arch && rm.Architecture != apt.ArchAll {
			continue
		}
		k := apt.PackageKey{Name: rm.Name, Version: rm.Version, Arch: rm.Architecture}
		if _, ok := listed[rm.Name+" "+rm.Version+" "+rm.Architecture]; !ok && !ret.added[component][k] {
			continue
		}
		newer := 0
		for _, v := range versions[[2]string{rm.Name, rm.Architecture}] {
			if apt.CompareVersions(v, rm.Version) > 0 {
				newer++
			}
		}
		if newer < ret.keep {
			return fmt.Errorf("%s/binary-%s: the round's retention removes %s %s %s, but only %d newer versions of it remain, "+
				"and retention keeps the newest %d", component, arch, rm.Name, rm.Version, rm.Architecture, newer, ret.keep)
		}
	}
	return nil
}
