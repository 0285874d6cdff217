package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

// TestMeasureQueries: the benchmark's queries see the database's uploads
// and count only published rounds of the releases named.
func TestMeasureQueries(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	first := b.addChange(t, b.release, "alpha")
	second := b.addChange(t, b.release, "beta")

	keys, err := b.store.PackageBlobKeys(b.ctx)
	require.NoError(t, err)
	var want []string
	for _, c := range []store.Change{first, second} {
		p, err := b.store.PackagesByID(b.ctx, []int64{c.Adds[0].PackageID})
		require.NoError(t, err)
		want = append(want, store.PackageBlobKey(b.tenant.ID, p[c.Adds[0].PackageID].SHA256))
	}
	require.ElementsMatch(t, want, keys)

	stats, err := b.store.PublishedRoundStats(b.ctx, []string{b.release.Name})
	require.NoError(t, err)
	require.Equal(t, store.RoundStats{}, stats, "pending changes are in no published round")
	_, err = b.store.PublishedRoundTimes(b.ctx, b.release.Name, 1)
	require.ErrorIs(t, err, store.ErrNotFound)
}
