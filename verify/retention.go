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
}

// newRetention checks that the round's retention can apply at all: a
// setting that keeps something, and removals of the release's components
// and architectures (an index checks only its own).
func newRetention(r Round, next *apt.Release) (retention, error) {
	ret := retention{keep: r.KeepVersions, byComponent: map[string][]Remove{}}
	if len(r.Retention) == 0 {
		return ret, nil
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
func (ret retention) check(component, arch string, want []byte) error {
	removes := ret.byComponent[component]
	if len(removes) == 0 {
		return nil
	}
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
