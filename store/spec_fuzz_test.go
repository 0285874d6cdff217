package store

import (
	"strings"
	"testing"

	"github.com/aptq/aptq/apt"
)

// FuzzParseSpec: a spec either fails or gives back parts that are each
// valid as an upload's fields and that make up the spec again.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"hello", "hello=1.0", "hello=1:2.0-1:arm64", "hello=2.0:all", "../x", "a=b:c:d"} {
		f.Add(s)
	}
	archs := []string{"amd64", "arm64"}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s, archs)
		if err != nil {
			return
		}
		if len(s) > MaxSpecLen || sp.Text != s || apt.CheckPackageName(sp.Name) != nil {
			t.Fatalf("%q parsed to %+v", s, sp)
		}
		rebuilt := sp.Name
		if sp.Version != "" || strings.Contains(s, "=") {
			if apt.CheckVersion(sp.Version) != nil {
				t.Fatalf("%q: invalid version %q accepted", s, sp.Version)
			}
			rebuilt += "=" + sp.Version
		}
		if sp.Arch != "" {
			if sp.Arch != apt.ArchAll && sp.Arch != "amd64" && sp.Arch != "arm64" {
				t.Fatalf("%q: architecture %q is not the release's", s, sp.Arch)
			}
			rebuilt += ":" + sp.Arch
		}
		if rebuilt != s {
			t.Fatalf("%q parsed to %+v, which reads back as %q", s, sp, rebuilt)
		}
	})
}
