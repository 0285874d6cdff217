package worker

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// TestCachedIndexesMatchRebuilt publishes rounds of additions (amd64 and
// all) and removals, alternating between a worker that keeps its indexes
// and one that keeps none, so the first finds its cache both current and
// stale. After every round the published Packages and Packages.gz must be
// exactly what a rebuild from the committed membership gives.
func TestCachedIndexesMatchRebuilt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mets := metrics.New()
	warm := NewPublishWorker(Config{Store: b.store, Blob: b.blob, Listener: b.listener,
		Logger: slog.New(slog.DiscardHandler), Holder: "warm", Metrics: mets})
	cold := NewPublishWorker(Config{Store: b.store, Blob: b.blob, Listener: b.listener,
		Logger: slog.New(slog.DiscardHandler), Holder: "cold", IndexCacheBytes: -1})
	log := slog.New(slog.DiscardHandler)

	var published []string
	for round := range 8 {
		var changes []store.Change
		for i := range 3 {
			arch := "amd64"
			if i == 2 {
				arch = "all"
			}
			name := fmt.Sprintf("p%d-%d", round, i)
			changes = append(changes, b.addArchChange(t, name, arch))
			published = append(published, name)
		}
		if round > 0 {
			// Remove one package of the previous round.
			gone := published[len(published)-5]
			arch := "amd64"
			if gone[len(gone)-1] == '2' {
				arch = "all"
			}
			c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil,
				[]store.ChangeRemove{{Name: gone, Version: "1.0", Architecture: arch, Component: "main"}})
			require.NoError(t, err)
			changes = append(changes, c)
		}
		w := warm
		if round%3 == 2 {
			w = cold
		}
		lease := b.lease(t, w)
		r, err := w.cut(b.ctx, lease, changes, log)
		require.NoError(t, err)
		require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, r), log))
		require.NoError(t, b.store.ReleaseLease(b.ctx, lease))

		members, err := b.store.Members(b.ctx, b.release.ID, []string{"main"}, []string{"amd64", "arm64", "all"})
		require.NoError(t, err)
		var pkgs []apt.Package
		for _, m := range members {
			p, err := aptPackage(m.Package, m.Filename)
			require.NoError(t, err)
			pkgs = append(pkgs, p)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			want, err := apt.GenerateIndexes("main", arch, apt.SplitByArch(pkgs, []string{arch})[arch], []apt.Compression{apt.Gzip})
			require.NoError(t, err)
			for _, f := range want[1:] { // Packages is listed, not stored
				got := b.read(t, b.repo.Prefix+"dists/stable/"+f.Path)
				require.True(t, bytes.Equal(f.Data, got), "round %d: %s differs from a rebuild", round, f.Path)
			}
		}
	}
	// Of the warm worker's rounds, 1, 4 and 7 found both indexes current;
	// 0 found none yet, and 3 and 6 found them stale (the cold worker
	// published in between).
	require.NoError(t, testutil.GatherAndCompare(mets.Registry, strings.NewReader(`
# HELP aptq_index_cache_lookups_total Indexes a round needed, by whether the worker's index cache held the last generation's (hit) or it was rebuilt from the database (miss).
# TYPE aptq_index_cache_lookups_total counter
aptq_index_cache_lookups_total{result="hit"} 6
aptq_index_cache_lookups_total{result="miss"} 6
`), "aptq_index_cache_lookups_total"))
}
