package verify

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// TestCheckRetention: what a release's retention removes in a round is
// checked as its changes are: it must be listed (an unlisted removal is a
// Packages that lacks a package), and each listed removal must leave
// keep_versions newer versions (dpkg order) of its name and architecture.
func TestCheckRetention(t *testing.T) {
	t.Parallel()
	// By string order 1.9 > 1.10; by dpkg order 1.10 is newer, and 1:0.1
	// (an epoch) newest of all.
	v19, v110, v111 := pkg("tool", "1.9", "amd64"), pkg("tool", "1.10", "amd64"), pkg("tool", "1.11", "amd64")
	epoch := pkg("tool", "1:0.1", "amd64")
	arm := pkg("tool", "1.0", "arm64")
	add := func(p apt.Package) Change {
		return Change{ID: 11, JobID: 21, TokenName: "alice", Adds: []Add{addOf(p)}}
	}
	cases := []struct {
		name      string
		indexed   []apt.Package // generation 2 holds the base and these
		change    Change
		keep      int
		retention []Remove
		armGone   bool // generation 2 no longer holds tool 1.0 arm64
		err       string
	}{
		{name: "listed retention of the oldest", indexed: []apt.Package{v110, v111}, change: add(v111),
			keep: 2, retention: []Remove{removeOf(v19)}},
		{name: "an epoch is newest", indexed: []apt.Package{v110, epoch}, change: add(epoch),
			keep: 2, retention: []Remove{removeOf(v19)}},
		{name: "two dropped at once", indexed: []apt.Package{v111}, change: add(v111),
			keep: 1, retention: []Remove{removeOf(v110), removeOf(v19)}},
		{name: "retention removed a package it does not list", indexed: []apt.Package{v110, v111}, change: add(v111),
			keep: 2, err: "it lacks tool 1.9 amd64"},
		{name: "listed retention not applied", indexed: []apt.Package{v19, v110, v111}, change: add(v111),
			keep: 2, retention: []Remove{removeOf(v19)}, err: "it lists tool 1.9 amd64, which no change of the round adds"},
		{name: "retention drops a version it must keep (string order)", indexed: []apt.Package{v19, v111}, change: add(v111),
			keep: 2, retention: []Remove{removeOf(v110)}, err: "removes tool 1.10 amd64, but only 1 newer versions of it remain"},
		{name: "retention drops the newest", indexed: []apt.Package{v19, v110}, change: add(v111),
			keep: 2, retention: []Remove{removeOf(v111)}, err: "removes tool 1.11 amd64, but only 0 newer versions"},
		{name: "retention with keep 0", indexed: []apt.Package{v110, v111}, change: add(v111),
			keep: 0, retention: []Remove{removeOf(v19)}, err: "keeps all versions"},
		{name: "retention of another architecture's only version", indexed: []apt.Package{v19, v110, v111}, change: add(v111),
			keep: 2, retention: []Remove{removeOf(arm)}, armGone: true, err: "removes tool 1.0 arm64, but only 0 newer versions"},
		{name: "retention outside the release", indexed: []apt.Package{v19, v110, v111}, change: add(v111),
			keep: 2, retention: []Remove{{Name: "tool", Version: "1.9", Architecture: "i386", Component: "main"}},
			err: "not a component and architecture of the release"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			// Generation 1 holds tool 1.9 and 1.10 (and 1.0 for arm64).
			prev := append(append([]apt.Package{}, fx.base...), v19, v110, arm)
			inRelease, _, err := sign.Sign(release(baseMeta, 1, fx.repo.indexFiles(t, prev)), fx.key)
			require.NoError(t, err)
			fx.prev = inRelease
			indexed := append(append([]apt.Package{}, fx.base...), tc.indexed...)
			if !tc.armGone {
				indexed = append(indexed, arm)
			}
			r := fx.round(t, indexed, tc.change)
			r.KeepVersions, r.Retention = tc.keep, tc.retention
			err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}
