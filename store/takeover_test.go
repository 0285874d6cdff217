package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// TestOrphanedReleases: an expired lease of a release with pending work is
// orphaned; a live one gives the time to its expiry; a lease of a release
// with nothing left to do, expired or not, is neither.
func TestOrphanedReleases(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	tenant, _, err := s.CreateTenant(ctx, "orphans")
	require.NoError(t, err)
	repo, err := s.CreateRepository(ctx, tenant, "repo")
	require.NoError(t, err)
	release := func(name string, pending bool) store.Release {
		rel, err := s.CreateRelease(ctx, store.Release{RepositoryID: repo.ID, Name: name, Origin: "o", Label: "l",
			Suite: name, Codename: name, Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
		require.NoError(t, err)
		if pending {
			_, err = s.InsertChange(ctx, s.Pool, rel.ID, nil, nil,
				[]store.ChangeRemove{{Name: "p", Version: "1", Architecture: "amd64", Component: "main"}})
			require.NoError(t, err)
		}
		return rel
	}
	dead, live, idle := release("dead", true), release("live", true), release("idle", false)
	deadLease, ok, err := s.AcquireLease(ctx, dead.ID, "dead-1-1", 3*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.Pool.Exec(ctx, `UPDATE release_leases SET expires_at = now() - interval '1 second' WHERE release_id = $1`, dead.ID)
	require.NoError(t, err)
	_, ok, err = s.AcquireLease(ctx, live.ID, "live-1-1", 20*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = s.AcquireLease(ctx, idle.ID, "idle-1-1", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.Pool.Exec(ctx, `UPDATE release_leases SET expires_at = now() - interval '1 second' WHERE release_id = $1`, idle.ID)
	require.NoError(t, err)

	o, err := s.OrphanedReleases(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.Lease{{ReleaseID: dead.ID, Holder: "dead-1-1", Token: deadLease.Token}}, o.Expired)
	require.InDelta(t, 20*time.Second, o.NextExpiry, float64(2*time.Second), "the live lease expires in about 20 s")

	// Taken over, the release is no longer orphaned.
	_, ok, err = s.AcquireLease(ctx, dead.ID, "next-1-1", 20*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	o, err = s.OrphanedReleases(ctx)
	require.NoError(t, err)
	require.Empty(t, o.Expired)
}
