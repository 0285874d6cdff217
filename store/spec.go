package store

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aptq/aptq/apt"
)

// Spec selects packages of a component by name, and optionally by version
// and architecture: NAME, NAME=VERSION or NAME=VERSION:ARCH.
type Spec struct {
	// Text is the spec as given, for errors that name it.
	Text                string
	Name, Version, Arch string
}

// MaxSpecLen bounds one spec: a name, a version and an architecture as an
// upload's control fields allow them, with room to spare.
const MaxSpecLen = 512

// ParseSpec reads NAME[=VERSION[:ARCH]]. ARCH is split off only when what
// follows the last colon is one of archs, "all" or "source" (a source
// package), so that a version's epoch
// colon ("1:2.0-1") is not taken for one; each part is checked as an
// upload's control field is.
func ParseSpec(s string, archs []string) (Spec, error) {
	if len(s) > MaxSpecLen {
		return Spec{}, fmt.Errorf("spec is %d bytes, at most %d allowed", len(s), MaxSpecLen)
	}
	sp := Spec{Text: s}
	name, rest, hasVersion := strings.Cut(s, "=")
	sp.Name = name
	if err := apt.CheckPackageName(name); err != nil {
		return Spec{}, fmt.Errorf("spec %q: package name: %w", s, err)
	}
	if !hasVersion {
		return sp, nil
	}
	sp.Version = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && (rest[i+1:] == apt.ArchAll || rest[i+1:] == apt.ArchSource || slices.Contains(archs, rest[i+1:])) {
		sp.Version, sp.Arch = rest[:i], rest[i+1:]
	}
	if err := apt.CheckVersion(sp.Version); err != nil {
		return Spec{}, fmt.Errorf("spec %q: version: %w", s, err)
	}
	return sp, nil
}

// Matches says whether the spec selects the package (name, version, arch).
func (sp Spec) Matches(name, version, arch string) bool {
	return sp.Name == name && (sp.Version == "" || sp.Version == version) && (sp.Arch == "" || sp.Arch == arch)
}

// MatchSpecs returns the members that any spec selects, in the members'
// order and each once, and the specs that select none.
func MatchSpecs(members []Member, specs []Spec) (matched []Member, unmatched []Spec) {
	byName := map[string][]int{}
	for i, m := range members {
		byName[m.Package.Name] = append(byName[m.Package.Name], i)
	}
	picked := make([]bool, len(members))
	for _, sp := range specs {
		hit := false
		for _, i := range byName[sp.Name] {
			p := members[i].Package
			if sp.Matches(p.Name, p.Version, p.Architecture) {
				picked[i], hit = true, true
			}
		}
		if !hit {
			unmatched = append(unmatched, sp)
		}
	}
	for i, m := range members {
		if picked[i] {
			matched = append(matched, m)
		}
	}
	return matched, unmatched
}
