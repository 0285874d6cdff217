package worker

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/verify"
)

// TestKeepVersionsUpdateRound: a round carrying a release update of
// keep_versions applies the value in force after its updates: its
// retention removes the versions beyond it (dpkg order), the round states
// it, its Release carries it as Aptq-Keep-Versions, the signer's check
// passes with exactly the listed update and refuses the round without it,
// and the commit writes the setting. An update back to 0 drops the field
// and removes nothing.
func TestKeepVersionsUpdateRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	log := slog.New(slog.DiscardHandler)
	lease := b.lease(t, w)
	var adds []store.ChangeAdd
	for _, v := range []string{"1.10", "1.0", "2.0", "1.2"} { // dpkg order: 1.0 < 1.2 < 1.10 < 2.0
		p := b.uploadPackage(t, debtest.Options{Package: "tool", Version: v, Architecture: "amd64"})
		adds = append(adds, store.ChangeAdd{PackageID: p.ID, Component: "main", Architecture: p.Architecture,
			Filename: apt.PoolPath("main", p.Source, p.Name, p.Version, p.Architecture)})
	}
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, adds, nil)
	require.NoError(t, err)
	first, err := w.cut(b.ctx, lease, []store.Change{c}, log)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, first), log))
	first, err = b.store.RoundByID(b.ctx, first.ID)
	require.NoError(t, err)
	require.NotContains(t, string(first.ReleaseBytes), "Aptq-Keep-Versions")

	pub, err := b.signer.PublicArmored()
	require.NoError(t, err)
	// update records a keep_versions update and cuts its round.
	update := func(keep int) (store.Round, int64) {
		t.Helper()
		c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil, nil)
		require.NoError(t, err)
		require.NoError(t, b.store.SetChangeSettings(b.ctx, b.store.Pool, c.ID, store.ReleaseSettings{KeepVersions: &keep}))
		pending, err := b.store.PendingChanges(b.ctx, b.store.Pool, b.release.ID)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		round, err := w.cut(b.ctx, lease, pending, log)
		require.NoError(t, err)
		return round, c.ID
	}
	check := func(round store.Round, prev []byte, changeID int64, u *verify.Update) error {
		r := verify.Round{ID: round.ID, Generation: round.Generation, Release: round.ReleaseBytes, PreviousInRelease: prev,
			Changes: []verify.Change{{ID: changeID, Update: u}}, KeepVersions: round.KeepVersions}
		for _, rm := range round.Retention {
			r.Retention = append(r.Retention, verify.Remove(rm))
		}
		return verify.Check(b.ctx, verify.Config{PublicKeys: [][]byte{pub}, Now: time.Now()}, r, byHashFetcher{b})
	}

	round, changeID := update(2)
	require.Equal(t, 2, round.KeepVersions, "the value in force after the round's update")
	require.Equal(t, []store.ChangeRemove{{Name: "tool", Version: "1.2", Architecture: "amd64", Component: "main"},
		{Name: "tool", Version: "1.0", Architecture: "amd64", Component: "main"}}, round.Retention)
	require.Contains(t, string(round.ReleaseBytes), "Aptq-Keep-Versions: 2\n")
	two := 2
	require.NoError(t, check(round, first.InRelease, changeID, &verify.Update{KeepVersions: &two}))
	require.ErrorContains(t, check(round, first.InRelease, changeID, nil), `adds field Aptq-Keep-Versions: "2"`)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))
	rel, err := b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, 2, rel.KeepVersions, "committed with the round")
	packages := gunzip(t, b.read(t, distsKey(b.repo.Prefix, "stable", "main/binary-amd64/Packages.gz")))
	require.Contains(t, packages, "Version: 2.0\n")
	require.Contains(t, packages, "Version: 1.10\n")
	require.NotContains(t, packages, "Version: 1.2\n")
	require.NotContains(t, packages, "Version: 1.0\n")
	second, err := b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)

	round, changeID = update(0)
	require.Zero(t, round.KeepVersions)
	require.Empty(t, round.Retention)
	require.NotContains(t, string(round.ReleaseBytes), "Aptq-Keep-Versions")
	zero := 0
	require.NoError(t, check(round, second.InRelease, changeID, &verify.Update{KeepVersions: &zero}))
	require.ErrorContains(t, check(round, second.InRelease, changeID, nil), "drops field Aptq-Keep-Versions")
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))
	rel, err = b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Zero(t, rel.KeepVersions)
}
