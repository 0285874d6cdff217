package apt

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEditFold: the last change to name a package decides, per component;
// packages come out in the order they were first named.
func TestEditFold(t *testing.T) {
	t.Parallel()
	pkg := func(name, version string) Package {
		return Package{Control: Paragraph{{Name: "Package", Value: name}, {Name: "Version", Value: version},
			{Name: "Architecture", Value: "amd64"}}, Filename: "pool/" + name}
	}
	key := func(name, version string) PackageKey { return PackageKey{Name: name, Version: version, Arch: "amd64"} }

	var f EditFold
	f.Add("main", pkg("a", "1"))
	f.Remove("main", key("a", "1")) // added, then removed: removed
	f.Remove("main", key("b", "1")) // removed, then added: added
	f.Add("main", pkg("b", "1"))
	f.Add("contrib", pkg("a", "1")) // another component is another package
	f.Remove("main", key("c", "0"))

	got := f.Edits()
	require.Len(t, got, 3)
	require.Empty(t, got["main/debian-installer"].Adds)
	require.Equal(t, []PackageKey{key("a", "1"), key("b", "1"), key("c", "0")}, got["main/debian-installer"].Removes,
		"a removal names no package type: it removes from the udebs' index too")
	require.Equal(t, []PackageKey{key("a", "1"), key("c", "0")}, got["main"].Removes)
	require.Len(t, got["main"].Adds, 1)
	require.Equal(t, "b", got["main"].Adds[0].Name())
	require.Len(t, got["contrib"].Adds, 1)
	require.Empty(t, got["contrib"].Removes)
	require.Zero(t, got["non-free"], "an untouched component has no edits")
}

// TestEditFoldUdeb: a udeb (Package-Type: udeb) is folded under its
// component's debian-installer index component, a .deb under the
// component; the last change to name it decides there too.
func TestEditFoldUdeb(t *testing.T) {
	t.Parallel()
	udeb := func(name string) Package {
		return Package{Control: Paragraph{{Name: "Package", Value: name}, {Name: "Package-Type", Value: "udeb"},
			{Name: "Version", Value: "1"}, {Name: "Architecture", Value: "amd64"}}, Filename: "pool/" + name + ".udeb"}
	}
	var f EditFold
	f.Add("main", udeb("u"))
	f.Add("main", udeb("gone"))
	f.Remove("main", PackageKey{Name: "gone", Version: "1", Arch: "amd64"})
	got := f.Edits()
	require.Len(t, got["main/debian-installer"].Adds, 1)
	require.Equal(t, "u", got["main/debian-installer"].Adds[0].Name())
	require.Equal(t, []PackageKey{{Name: "gone", Version: "1", Arch: "amd64"}}, got["main/debian-installer"].Removes)
	require.Empty(t, got["main"].Adds, "a udeb is not in the component's binary index")
	require.Equal(t, "main/debian-installer", InstallerComponent("main"))
	require.Equal(t, "main", ReleaseComponent("main/debian-installer"))
	require.Equal(t, "main", ReleaseComponent("main"))
	require.Equal(t, "pool/main/u/u/u_1_amd64.udeb", UdebPoolPath("main", "u", "u", "1", "amd64"))
}

// TestEditFoldIgnoresSourceRemovals: removing a source package is not a
// Packages edit, even when a binary of the same name and version is added.
func TestEditFoldIgnoresSourceRemovals(t *testing.T) {
	t.Parallel()
	var f EditFold
	f.Remove("main", PackageKey{Name: "hello", Version: "1.0-1", Arch: ArchSource})
	require.Empty(t, f.Edits())
}
