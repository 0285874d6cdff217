package worker

import (
	"strings"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// indexKeys are the Packages indexes a release may list, in the order its
// Release lists them: each component's binary-<arch> indexes, then its
// debian-installer/binary-<arch> ones (udebs).
func indexKeys(rel store.Release) []indexKey {
	keys := make([]indexKey, 0, 2*len(rel.Components)*len(rel.Architectures))
	for _, comp := range rel.Components {
		for _, c := range []string{comp, apt.InstallerComponent(comp)} {
			for _, arch := range rel.Architectures {
				keys = append(keys, indexKey{c, arch})
			}
		}
	}
	return keys
}

// hasInstallerIndexes says whether component lists debian-installer
// indexes after the round: once the last generation has one, or the round
// adds a udeb to it. Like Debian, a component that never had a udeb lists
// none; once it has, it keeps them (empty when its udebs are gone), as the
// signer lets an index go only with its component or architecture.
func hasInstallerIndexes(component string, edits map[string]apt.Edits, prevByPath map[string]store.IndexFile) bool {
	di := apt.InstallerComponent(component)
	if len(edits[di].Adds) > 0 {
		return true
	}
	for path := range prevByPath {
		if strings.HasPrefix(path, di+"/binary-") {
			return true
		}
	}
	return false
}
