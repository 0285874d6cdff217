package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

type overviewBundle struct {
	ctx     context.Context
	store   *store.Store
	tenant  store.Tenant
	repo    store.Repository
	release store.Release
}

func setupOverview(t *testing.T) *overviewBundle {
	t.Helper()
	b := &overviewBundle{ctx: context.Background(), store: storetest.NewStore(t)}
	var err error
	b.tenant, _, err = b.store.CreateTenant(b.ctx, "overview")
	require.NoError(t, err)
	b.repo, err = b.store.CreateRepository(b.ctx, b.tenant, "repo")
	require.NoError(t, err)
	b.release = b.newRelease(t, "stable")
	return b
}

func (b *overviewBundle) newRelease(t *testing.T, name string) store.Release {
	t.Helper()
	r, err := b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: name,
		Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	return r
}

// addChange records a pending change adding a made-up package.
func (b *overviewBundle) addChange(t *testing.T, rel store.Release, name string) store.Change {
	t.Helper()
	p, _, err := b.store.InsertPackage(b.ctx, store.Package{TenantID: b.tenant.ID, SHA256: systest.RandomHex(32),
		SHA512: systest.RandomHex(64), SHA1: systest.RandomHex(20), MD5: systest.RandomHex(16), Size: 100, Name: name, Version: "1.0",
		Architecture: "amd64", Source: name, Control: "Package: " + name + "\n"})
	require.NoError(t, err)
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, rel.ID, nil, []store.ChangeAdd{{PackageID: p.ID,
		Component: "main", Architecture: "amd64", Filename: "pool/main/" + name + ".deb"}}, nil)
	require.NoError(t, err)
	return c
}

// TestOverview: the operator's queries see leases, open rounds, pending
// changes, recent rounds and timelines across tenants.
func TestOverview(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	idle := b.newRelease(t, "idle")
	first := b.addChange(t, b.release, "alpha")
	second := b.addChange(t, b.release, "beta")

	lease, ok, err := b.store.AcquireLease(b.ctx, b.release.ID, "worker-7", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(b.ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC(),
		ReleaseBytes: []byte("Origin: x\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{first.ID},
		SignatureTimeout: time.Minute})
	require.NoError(t, err)
	// An expired lease is no holder.
	_, ok, err = b.store.AcquireLease(b.ctx, idle.ID, "worker-gone", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE release_leases SET expires_at = now() - interval '1 second' WHERE release_id = $1`, idle.ID)
	require.NoError(t, err)

	releases, err := b.store.ReleaseOverviews(b.ctx, 10)
	require.NoError(t, err)
	require.Len(t, releases, 2)
	require.Equal(t, "idle", releases[0].Release, "sorted by name")
	require.Empty(t, releases[0].LeaseHolder)
	require.Nil(t, releases[0].LeaseExpiresAt)
	require.Nil(t, releases[0].OpenRound)
	busy := releases[1]
	require.Equal(t, "overview", busy.Tenant)
	require.Equal(t, "repo", busy.Repo)
	require.Equal(t, "stable", busy.Release)
	require.Equal(t, "worker-7", busy.LeaseHolder)
	require.NotNil(t, busy.LeaseExpiresAt)
	require.Equal(t, &store.OpenRoundOverview{ID: round.ID, Generation: 1, State: store.RoundAwaitingSignature}, busy.OpenRound)
	require.Equal(t, 1, busy.PendingChanges)
	require.Zero(t, busy.Generation)

	limited, err := b.store.ReleaseOverviews(b.ctx, 1)
	require.NoError(t, err)
	require.Len(t, limited, 1)

	rounds, err := b.store.RecentRounds(b.ctx, 20)
	require.NoError(t, err)
	require.Len(t, rounds, 1)
	require.Equal(t, "stable", rounds[0].Release)
	require.Equal(t, round.ID, rounds[0].ID)
	require.Equal(t, 1, rounds[0].Changes)
	require.Equal(t, store.RoundAwaitingSignature, rounds[0].State)

	timelines, err := b.store.Timelines(b.ctx, []int64{first.ID, second.ID, 1 << 40})
	require.NoError(t, err)
	require.Len(t, timelines, 2)
	kinds := func(es []store.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Kind)
		}
		return out
	}
	require.Equal(t, []string{store.EventEnqueued, store.EventRoundCut}, kinds(timelines[first.ID]))
	require.Equal(t, []string{store.EventEnqueued}, kinds(timelines[second.ID]))
	require.EqualValues(t, round.ID, timelines[first.ID][1].Detail["round_id"])

	// No River jobs were inserted: no queue has a depth.
	depths, err := b.store.QueueDepths(b.ctx)
	require.NoError(t, err)
	require.Empty(t, depths)
}
