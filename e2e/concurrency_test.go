package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/internal/observe"
)

// publishAll runs one `aptq pkg add` per deb, all at once, and returns the
// failures (exit code and output) by file.
func (b *bundle) publishAll(ctx context.Context, repo, release, key string, debs []string) map[string]string {
	var mu sync.Mutex
	failures := map[string]string{}
	var wg sync.WaitGroup
	for _, deb := range debs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := b.cli(ctx, "pkg", "add", "--repo", repo, "--release", release, "--key", key, deb)
			if code != 0 {
				mu.Lock()
				failures[deb] = fmt.Sprintf("exit %d\n%s\n%s", code, out, errOut)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failures
}

// roundStats reads the published rounds of a repository's releases.
type roundSpan struct {
	release    string
	generation int64
	changes    int
	start, end time.Time
}

func (b *bundle) publishedRounds(t *testing.T) []roundSpan {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT rel.name, r.generation, (SELECT count(*) FROM changes c WHERE c.round_id = r.id),
			r.created_at, r.published_at
		FROM rounds r JOIN releases rel ON rel.id = r.release_id
		WHERE r.state = 'published' ORDER BY r.created_at`)
	require.NoError(t, err)
	spans, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (roundSpan, error) {
		var s roundSpan
		err := row.Scan(&s.release, &s.generation, &s.changes, &s.start, &s.end)
		return s, err
	})
	require.NoError(t, err)
	return spans
}

// Test200ConcurrentPublishes: 200 CLIs publish distinct packages to ONE
// release at once. All are published, none fails, the changes are coalesced
// into far fewer rounds, and an observer polling InRelease throughout never
// sees the generation go back nor an index that is missing or wrong.
func Test200ConcurrentPublishes(t *testing.T) {
	t.Parallel()
	const n = 200
	b := setup(t)
	key := b.repoWithKey("busy", "stable")
	var debs []string
	for i := range n {
		arch := "amd64"
		if i%10 == 0 {
			arch = "all"
		}
		debs = append(debs, writeDeb(t, b.dir, debtest.Options{Package: fmt.Sprintf("busy-%03d", i),
			Version: "1.0-1", Architecture: arch}))
	}

	repoURL := b.URL + "/apt/" + b.Tenant + "/busy"
	obs := observe.New(repoURL, "stable", nil, t.Logf)
	obsCtx, stopObserver := context.WithCancel(context.Background())
	obsDone := make(chan struct{})
	go func() { obs.Run(obsCtx, 25*time.Millisecond); close(obsDone) }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	failures := b.publishAll(ctx, "busy", "stable", key, debs)
	wall := time.Since(start)
	obs.Check(context.Background()) // one last look at the final state
	stopObserver()
	<-obsDone

	require.Empty(t, failures)
	rounds := b.publishedRounds(t)
	changes := 0
	for _, r := range rounds {
		changes += r.changes
	}
	require.Equal(t, n, changes, "every change published in exactly one round")
	require.LessOrEqual(t, len(rounds), n/4, "changes are coalesced into far fewer rounds")
	seen := obs.Result()
	require.Empty(t, seen.Broken)
	require.Empty(t, seen.Regressions)
	require.Greater(t, seen.Snapshots, 0)
	require.Equal(t, int64(len(rounds)), seen.LastGen)
	t.Logf("%d publishes in %v: %d rounds, generations seen by the observer: %v (%d snapshots)",
		n, wall.Round(time.Millisecond), len(rounds), seen.Generations, seen.Snapshots)
}

// TestReleasesPublishInParallel: publishes to 20 releases proceed at the
// same time: their rounds overlap.
func TestReleasesPublishInParallel(t *testing.T) {
	t.Parallel()
	const releases, perRelease = 20, 3
	b := setup(t)
	var names []string
	for i := range releases {
		names = append(names, fmt.Sprintf("r%02d", i))
	}
	key := b.repoWithKey("wide", names...)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := map[string]string{}
	for _, rel := range names {
		var debs []string
		for j := range perRelease {
			debs = append(debs, writeDeb(t, b.dir, debtest.Options{Package: fmt.Sprintf("wide-%s-%d", rel, j),
				Version: "1.0", Architecture: "amd64"}))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := b.publishAll(ctx, "wide", rel, key, debs)
			mu.Lock()
			for k, v := range f {
				failures[k] = v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Empty(t, failures)

	rounds := b.publishedRounds(t)
	perRel := map[string]int{}
	for _, r := range rounds {
		perRel[r.release] += r.changes
	}
	require.Len(t, perRel, releases)
	for rel, c := range perRel {
		require.Equal(t, perRelease, c, "release %s", rel)
	}
	require.GreaterOrEqual(t, maxOverlap(rounds), releases/2,
		"rounds of different releases run at the same time")
}

// maxOverlap is the largest number of rounds of distinct releases in
// flight at one instant.
func maxOverlap(spans []roundSpan) int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, s := range spans {
		events = append(events, event{s.start, 1}, event{s.end, -1})
	}
	sort.Slice(events, func(i, j int) bool {
		if events[i].at.Equal(events[j].at) {
			return events[i].delta < events[j].delta
		}
		return events[i].at.Before(events[j].at)
	})
	cur, best := 0, 0
	for _, e := range events {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}
