package verify

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// udebPkg is pkg as a udeb (Package-Type: udeb, a .udeb pool file).
func udebPkg(name, version, arch string) apt.Package {
	p := pkg(name, version, arch)
	p.Control = append(p.Control, apt.Field{Name: "Package-Type", Value: "udeb"})
	p.Filename = apt.UdebPoolPath("main", name, name, version, arch)
	return p
}

// installerFiles renders main/debian-installer/binary-<arch> of udebs and
// stores them under by-hash.
func (r *fakeRepo) installerFiles(t *testing.T, udebs []apt.Package) []apt.IndexFile {
	var files []apt.IndexFile
	for _, arch := range archs {
		got, err := apt.GenerateIndexes(apt.InstallerComponent("main"), arch, apt.SplitByArch(udebs, archs)[arch],
			[]apt.Compression{apt.Gzip, apt.XZ})
		require.NoError(t, err)
		for _, f := range got {
			r.store(f)
		}
		files = append(files, got...)
	}
	return files
}

// TestCheckUdebs: the udebs' index (main/debian-installer/binary-<arch>)
// is checked like binary-<arch>: a udeb the round adds belongs there and
// only there, a udeb stanza no change adds is refused, and the index may
// not be dropped.
func TestCheckUdebs(t *testing.T) {
	t.Parallel()
	u := udebPkg("step", "1.0", "amd64")
	evil := udebPkg("evil-step", "6.6.6", apt.ArchAll)
	change := func(adds ...apt.Package) Change {
		c := Change{ID: 11, JobID: 21, TokenName: "alice"}
		for _, p := range adds {
			c.Adds = append(c.Adds, addOf(p))
		}
		return c
	}
	cases := []struct {
		name      string
		prevUdebs []apt.Package // nil: generation 1 lists no udebs' index
		regular   []apt.Package // generation 2's binary-<arch>, beside the base
		udebs     []apt.Package // nil: generation 2 lists no udebs' index
		changes   []Change
		err       string
	}{
		{name: "honest udeb", udebs: []apt.Package{u}, changes: []Change{change(u)}},
		{name: "udeb in the regular index", regular: []apt.Package{u}, udebs: []apt.Package{u}, changes: []Change{change(u)},
			err: "main/binary-amd64/Packages is not the previous generation plus the round's changes"},
		{name: "udeb only in the regular index", regular: []apt.Package{u}, changes: []Change{change(u)},
			err: "main/binary-amd64/Packages is not the previous generation plus the round's changes"},
		{name: "hidden udeb", prevUdebs: []apt.Package{u}, udebs: []apt.Package{u, evil}, changes: []Change{{ID: 12, TokenName: "alice"}},
			err: "main/debian-installer/binary-amd64/Packages is not the previous generation plus the round's changes"},
		{name: "udebs' index dropped", prevUdebs: []apt.Package{u}, changes: []Change{{ID: 12, TokenName: "alice"}},
			err: "drops index main/debian-installer/binary-amd64"},
		{name: "udeb removed", prevUdebs: []apt.Package{u}, udebs: []apt.Package{},
			changes: []Change{{ID: 12, TokenName: "alice", Removes: []Remove{removeOf(u)}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			prev := fx.prev
			if tc.prevUdebs != nil {
				files := append(fx.repo.indexFiles(t, fx.base), fx.repo.installerFiles(t, tc.prevUdebs)...)
				var err error
				prev, _, err = sign.Sign(release(baseMeta, 1, files), fx.key)
				require.NoError(t, err)
			}
			files := fx.repo.indexFiles(t, append(append([]apt.Package{}, fx.base...), tc.regular...))
			if tc.udebs != nil {
				files = append(files, fx.repo.installerFiles(t, tc.udebs)...)
			}
			r := Round{ID: 7, Generation: 2, Release: release(baseMeta, 2, files), PreviousInRelease: prev, Changes: tc.changes}
			err := Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}
