package verify

import (
	"context"
	"slices"
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
			meta := baseMeta
			meta.KeepVersions = tc.keep
			prev := append(append([]apt.Package{}, fx.base...), v19, v110, arm)
			inRelease, _, err := sign.Sign(release(meta, 1, fx.repo.indexFiles(t, prev)), fx.key)
			require.NoError(t, err)
			indexed := append(append([]apt.Package{}, fx.base...), tc.indexed...)
			if !tc.armGone {
				indexed = append(indexed, arm)
			}
			r := Round{ID: 7, Generation: 2, Release: release(meta, 2, fx.repo.indexFiles(t, indexed)),
				PreviousInRelease: inRelease, Changes: []Change{tc.change}, KeepVersions: tc.keep, Retention: tc.retention}
			err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// TestCheckKeepVersionsUpdate: the retention in force is the signed one
// (Aptq-Keep-Versions): the previous generation's, or what a listed update
// sets. A round whose retention differs without a listed update, or whose
// stated keep_versions is not the Release's, is refused.
func TestCheckKeepVersionsUpdate(t *testing.T) {
	t.Parallel()
	v1, v2, v3 := pkg("tool", "1.0", "amd64"), pkg("tool", "2.0", "amd64"), pkg("tool", "3.0", "amd64")
	keep := func(n int) Change {
		return Change{ID: 12, JobID: 34, TokenName: "admin", Update: &Update{KeepVersions: &n}}
	}
	cases := []struct {
		name               string
		prevKeep, nextKeep int // the Releases' Aptq-Keep-Versions
		roundKeep          int // what the server says the round applied
		changes            []Change
		indexed            []apt.Package // generation 2 holds the base and these
		retention          []Remove
		err                string
	}{
		{name: "listed update lowers it, retention applies the new value", prevKeep: 3, nextKeep: 1, roundKeep: 1,
			changes: []Change{keep(1)}, indexed: []apt.Package{v3}, retention: []Remove{removeOf(v2), removeOf(v1)}},
		{name: "listed update sets it on a release that kept all", nextKeep: 2, roundKeep: 2,
			changes: []Change{keep(2)}, indexed: []apt.Package{v2, v3}, retention: []Remove{removeOf(v1)}},
		{name: "listed update drops it", prevKeep: 2, changes: []Change{keep(0)}, indexed: []apt.Package{v1, v2, v3}},
		{name: "two updates, the last one counts", prevKeep: 3, nextKeep: 2, roundKeep: 2,
			changes: []Change{keep(1), keep(2)}, indexed: []apt.Package{v2, v3}, retention: []Remove{removeOf(v1)}},
		{name: "lowered by no update", prevKeep: 3, nextKeep: 1, roundKeep: 1,
			indexed: []apt.Package{v3}, retention: []Remove{removeOf(v2), removeOf(v1)},
			err: `changes Aptq-Keep-Versions: "1", generation 1 says Aptq-Keep-Versions: "3"`},
		{name: "set by no update", nextKeep: 1, roundKeep: 1, indexed: []apt.Package{v3},
			retention: []Remove{removeOf(v2), removeOf(v1)}, err: `adds field Aptq-Keep-Versions: "1"`},
		{name: "the round says another value than the Release", prevKeep: 3, nextKeep: 3, roundKeep: 1,
			indexed: []apt.Package{v3}, retention: []Remove{removeOf(v2), removeOf(v1)},
			err: "the round applies keep_versions 1, but the Release to sign says Aptq-Keep-Versions 3"},
		{name: "listed update not applied to the Release", prevKeep: 3, nextKeep: 3, roundKeep: 3, changes: []Change{keep(1)},
			indexed: []apt.Package{v1, v2, v3}, err: `changes Aptq-Keep-Versions: "3", generation 1 says Aptq-Keep-Versions: "1"`},
		{name: "retention beyond the listed value", prevKeep: 3, nextKeep: 2, roundKeep: 2, changes: []Change{keep(2)},
			indexed: []apt.Package{v3}, retention: []Remove{removeOf(v2), removeOf(v1)},
			err: "removes tool 2.0 amd64, but only 1 newer versions of it remain, and retention keeps the newest 2"},
		{name: "the field through Fields", prevKeep: 3, nextKeep: 1, roundKeep: 1,
			changes: []Change{{ID: 12, Update: &Update{Fields: map[string]string{"Aptq-Keep-Versions": "1"}}}},
			indexed: []apt.Package{v3}, retention: []Remove{removeOf(v2), removeOf(v1)},
			err: "updates field Aptq-Keep-Versions, which a release update cannot set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			meta := baseMeta
			meta.KeepVersions = tc.prevKeep
			inRelease, _, err := sign.Sign(release(meta, 1, fx.repo.indexFiles(t, append(slices.Clone(fx.base), v1, v2, v3))), fx.key)
			require.NoError(t, err)
			meta.KeepVersions = tc.nextKeep
			r := Round{ID: 7, Generation: 2, Release: release(meta, 2, fx.repo.indexFiles(t, append(slices.Clone(fx.base), tc.indexed...))),
				PreviousInRelease: inRelease, Changes: tc.changes, KeepVersions: tc.roundKeep, Retention: tc.retention}
			err = Check(context.Background(), Config{PublicKeys: [][]byte{fx.pub}, Now: testNow}, r, fx.repo)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}
