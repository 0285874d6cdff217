package api

import (
	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// poolPath is where package p of component is published: a udeb (its
// control says Package-Type: udeb) under the .udeb name Debian gives it.
func poolPath(component string, p store.Package) string {
	if apt.IsUdebControl(p.Control) {
		return apt.UdebPoolPath(component, p.Source, p.Name, p.Version, p.Architecture)
	}
	return apt.PoolPath(component, p.Source, p.Name, p.Version, p.Architecture)
}
