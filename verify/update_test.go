package verify

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// layoutFiles renders the indexes of every component × architecture, the
// packages all in component main, and stores them under by-hash.
func (r *fakeRepo) layoutFiles(t *testing.T, comps, archList []string, pkgs []apt.Package) []apt.IndexFile {
	var files []apt.IndexFile
	for _, comp := range comps {
		var in []apt.Package
		if comp == "main" {
			in = pkgs
		}
		for _, arch := range archList {
			got, err := apt.GenerateIndexes(comp, arch, apt.SplitByArch(in, archList)[arch], []apt.Compression{apt.Gzip, apt.XZ})
			require.NoError(t, err)
			for _, f := range got {
				r.store(f)
			}
			files = append(files, got...)
		}
	}
	return files
}

// TestCheckUpdate: a round may change the release's fields, components
// and architectures exactly as its listed updates say, and nothing else.
func TestCheckUpdate(t *testing.T) {
	t.Parallel()
	label := func(v string) *Update { return &Update{Fields: map[string]string{"Label": v}} }
	update := func(u *Update) Change { return Change{ID: 12, JobID: 34, TokenName: "admin", Update: u} }
	withMain := []string{"main"}
	withContrib := []string{"main", "contrib"}
	cases := []struct {
		name string
		// prevComps is generation 1's components (default main).
		prevComps []string
		meta      func(m *apt.ReleaseMeta)
		comps     []string
		archs     []string
		indexed   func(fx *fixture) []apt.Package
		changes   []Change
		mangle    func([]byte) []byte
		// emptyArch, if set, gets indexes with no package at all.
		emptyArch string
		err       string
	}{
		{name: "listed Label", meta: func(m *apt.ReleaseMeta) { m.Label = "new" }, changes: []Change{update(label("new"))}},
		{name: "listed options", meta: func(m *apt.ReleaseMeta) {
			m.NotAutomatic, m.ButAutomaticUpgrades, m.SignedBy = true, true, "0123456789ABCDEF0123456789ABCDEF01234567"
		}, changes: []Change{update(&Update{Fields: map[string]string{"NotAutomatic": "yes", "ButAutomaticUpgrades": "yes",
			"Signed-By": "0123456789ABCDEF0123456789ABCDEF01234567"}})}},
		{name: "two updates in order", meta: func(m *apt.ReleaseMeta) { m.Label = "second" },
			changes: []Change{update(label("first")), update(label("second"))}},
		{name: "listed Origin dropped", prevComps: withMain, meta: func(m *apt.ReleaseMeta) { m.Origin = "" },
			changes: []Change{update(&Update{Fields: map[string]string{"Origin": ""}})}},
		{name: "listed architecture added, its index has the arch all packages",
			archs: []string{"amd64", "arm64", "riscv64"}, changes: []Change{update(&Update{AddArchitectures: []string{"riscv64"}})}},
		{name: "listed empty component added", comps: withContrib,
			changes: []Change{update(&Update{AddComponents: []string{"contrib"}})}},
		{name: "listed empty component removed", prevComps: withContrib, comps: withMain,
			changes: []Change{update(&Update{RemoveComponents: []string{"contrib"}})}},
		{name: "listed architecture removed", archs: []string{"amd64"},
			changes: []Change{update(&Update{RemoveArchitectures: []string{"arm64"}})}},
		{name: "Label changed by no update", meta: func(m *apt.ReleaseMeta) { m.Label = "evil" },
			err: `changes Label: "evil", generation 1 says Label: "l"`},
		{name: "Origin changed beside a listed Label", meta: func(m *apt.ReleaseMeta) { m.Label, m.Origin = "new", "evil" },
			changes: []Change{update(label("new"))}, err: `changes Origin: "evil"`},
		{name: "listed Label not applied", changes: []Change{update(label("new"))},
			err: `changes Label: "l", generation 1 says Label: "new" once the round's updates apply`},
		{name: "NotAutomatic slipped in", meta: func(m *apt.ReleaseMeta) { m.NotAutomatic = true },
			err: "adds field NotAutomatic"},
		{name: "Signed-By other than listed", meta: func(m *apt.ReleaseMeta) { m.SignedBy = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" },
			changes: []Change{update(&Update{Fields: map[string]string{"Signed-By": "0123456789ABCDEF0123456789ABCDEF01234567"}})},
			err:     `changes Signed-By`},
		{name: "update of a field it cannot set", changes: []Change{update(&Update{Fields: map[string]string{"Acquire-By-Hash": "no"}})},
			err: "updates field Acquire-By-Hash, which a release update cannot set"},
		{name: "architecture added by no update", archs: []string{"amd64", "arm64", "riscv64"},
			err: `changes Architectures: "amd64 arm64 riscv64"`},
		{name: "component removed by no update", prevComps: withContrib, comps: withMain,
			err: `changes Components: "main"`},
		{name: "removal of a component the release lacks", changes: []Change{update(&Update{RemoveComponents: []string{"contrib"}})},
			err: `removes components "contrib", which the release does not have`},
		{name: "listed removal of a component that holds packages", prevComps: withContrib, comps: []string{"contrib"},
			indexed: func(*fixture) []apt.Package { return nil },
			changes: []Change{update(&Update{RemoveComponents: []string{"main"}})},
			err:     "drops component main, whose index main/binary-amd64 is not empty"},
		{name: "new architecture's index without the arch all packages", archs: []string{"amd64", "arm64", "riscv64"},
			changes: []Change{update(&Update{AddArchitectures: []string{"riscv64"}})}, emptyArch: "riscv64",
			err: "main/binary-riscv64/Packages"},
		{name: "an add to a component the round removes", prevComps: withContrib, comps: withMain,
			changes: []Change{update(&Update{RemoveComponents: []string{"contrib"}}),
				{ID: 13, JobID: 35, Adds: []Add{func() Add { a := addOf(pkg("late", "1.0", "amd64")); a.Component = "contrib"; return a }()}}},
			err: "change 13 (job 35) adds late 1.0 amd64 to contrib, which the Release to sign has no index for"},
		{name: "Label twice", changes: []Change{update(label("new"))}, meta: func(m *apt.ReleaseMeta) { m.Label = "new" },
			mangle: func(b []byte) []byte {
				return bytes.Replace(b, []byte("Label: new\n"), []byte("Label: new\nLabel: evil\n"), 1)
			},
			err: `duplicate field "Label"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			prevComps := withMain
			if tc.prevComps != nil {
				prevComps = tc.prevComps
			}
			prevMeta := baseMeta
			prevMeta.Components = prevComps
			prev, _, err := sign.Sign(release(prevMeta, 1, fx.repo.layoutFiles(t, prevComps, archs, fx.base)), fx.key)
			require.NoError(t, err)
			meta := prevMeta
			if tc.comps != nil {
				meta.Components = tc.comps
			}
			meta.Architectures = archs
			if tc.archs != nil {
				meta.Architectures = tc.archs
			}
			if tc.meta != nil {
				tc.meta(&meta)
			}
			indexed := fx.base
			if tc.indexed != nil {
				indexed = tc.indexed(fx)
			}
			files := fx.repo.layoutFiles(t, meta.Components, meta.Architectures, indexed)
			if tc.emptyArch != "" {
				files = slices.DeleteFunc(files, func(f apt.IndexFile) bool { return strings.Contains(f.Path, "binary-"+tc.emptyArch) })
				files = append(files, fx.repo.layoutFiles(t, meta.Components, []string{tc.emptyArch}, nil)...)
			}
			data := release(meta, 2, files)
			if tc.mangle != nil {
				data = tc.mangle(data)
			}
			r := Round{ID: 7, Generation: 2, Release: data, PreviousInRelease: prev, Changes: tc.changes}
			err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}
