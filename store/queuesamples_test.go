package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

// TestQueueSamples samples the open jobs of several releases and states at
// controlled minutes and reads them back: a repeated sample of a minute
// records nothing, the total counts every release and a release only its
// own, each bucket holds the peak of its samples, a minute without jobs is
// still sampled while one never sampled is not, and samples older than 8
// days go.
func TestQueueSamples(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	busy, other, idle := b.release, b.newRelease(t, "other"), b.newRelease(t, "idle")
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	sample := func(at time.Time) bool {
		t.Helper()
		recorded, err := b.store.SampleQueue(b.ctx, at)
		require.NoError(t, err)
		return recorded
	}
	rowsAt := func(at time.Time) (n int) {
		t.Helper()
		require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT count(*) FROM queue_samples WHERE at = $1`, at).Scan(&n))
		return n
	}

	// Before any job: old minutes, sampled with an empty queue.
	require.True(t, sample(t0.Add(-9*24*time.Hour)))
	require.True(t, sample(t0.Add(-7*24*time.Hour+30*time.Second)))
	require.Equal(t, 1, rowsAt(t0.Add(-7*24*time.Hour)), "an empty queue leaves its mark only")

	b.addChange(t, busy, "a1")
	b.addChange(t, busy, "a2")
	b.addChange(t, other, "b1")
	b.cutRound(t, other, 1) // one job awaiting its signature
	require.True(t, sample(t0.Add(10*time.Second)))
	require.Zero(t, rowsAt(t0.Add(-9*24*time.Hour)), "the sample of 9 days ago is pruned")
	require.Equal(t, 1, rowsAt(t0.Add(-7*24*time.Hour)), "the sample of 7 days ago is kept")
	// busy queued, other queued and awaiting, the totals of both states, the mark.
	require.Equal(t, 6, rowsAt(t0))
	b.addChange(t, busy, "a3")
	require.False(t, sample(t0.Add(50*time.Second)), "a minute is sampled once")
	require.Equal(t, 6, rowsAt(t0))

	require.True(t, sample(t0.Add(time.Minute)))
	var mark int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT jobs FROM queue_samples WHERE at = $1 AND release_id = 0 AND state = 'all'`,
		t0.Add(time.Minute)).Scan(&mark))
	require.Equal(t, 5, mark, "the mark counts every open job")
	// The samples count what OpenJobs counts.
	for _, rel := range []int64{0, busy.ID, other.ID} {
		open, err := b.store.OpenJobs(b.ctx, rel)
		require.NoError(t, err)
		depth, err := b.store.QueueDepth(b.ctx, rel, t0.Add(time.Minute), t0.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)
		want := map[string]int{}
		for _, c := range open {
			want[c.State] = c.Count
		}
		require.Equal(t, want, depth[0].Jobs, "release %d", rel)
	}
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE changes SET state = 'failed' WHERE release_id = $1 AND state = 'pending'`, busy.ID)
	require.NoError(t, err)
	require.True(t, sample(t0.Add(3*time.Minute)))

	// Buckets of 2 minutes over [t0, t0+6m): the peak of t0's 2 and
	// t0+1m's 3, then the minute after the failure, then nothing sampled.
	read := func(rel int64) []store.DepthBucket {
		t.Helper()
		depth, err := b.store.QueueDepth(b.ctx, rel, t0, t0.Add(6*time.Minute), 2*time.Minute)
		require.NoError(t, err)
		require.Len(t, depth, 3)
		for i, d := range depth {
			require.Equal(t, t0.Add(time.Duration(i)*2*time.Minute), d.At.UTC())
		}
		return depth
	}
	busyDepth := read(busy.ID)
	require.Equal(t, []bool{true, true, false}, sampled(busyDepth))
	require.Equal(t, map[string]int{store.JobQueued: 3}, busyDepth[0].Jobs)
	require.Empty(t, busyDepth[1].Jobs, "sampled, and no open job")
	require.Empty(t, busyDepth[2].Jobs)

	total := read(0)
	require.Equal(t, []bool{true, true, false}, sampled(total))
	require.Equal(t, map[string]int{store.JobQueued: 4, store.RoundAwaitingSignature: 1}, total[0].Jobs)
	require.Equal(t, map[string]int{store.JobQueued: 1, store.RoundAwaitingSignature: 1}, total[1].Jobs)

	otherDepth := read(other.ID)
	require.Equal(t, map[string]int{store.JobQueued: 1, store.RoundAwaitingSignature: 1}, otherDepth[0].Jobs)
	idleDepth := read(idle.ID)
	require.Equal(t, []bool{true, true, false}, sampled(idleDepth), "an idle release's minutes are sampled too")
	require.Empty(t, idleDepth[0].Jobs)

	// The week before: only the empty sample of 7 days ago, in its bucket.
	week, err := b.store.QueueDepth(b.ctx, 0, t0.Add(-7*24*time.Hour), t0, 2*time.Hour)
	require.NoError(t, err)
	require.Len(t, week, 84)
	require.True(t, week[0].Sampled)
	require.Empty(t, week[0].Jobs)
	for _, d := range week[1:] {
		require.False(t, d.Sampled, d.At)
	}
}

func sampled(depth []store.DepthBucket) []bool {
	out := make([]bool, len(depth))
	for i, d := range depth {
		out[i] = d.Sampled
	}
	return out
}

// TestSampleQueueConcurrent: samplers of one minute at once (two leaders,
// a retry) record it once: one reports it, and the minute holds one row
// per release and state, with the counts of one sampler.
func TestSampleQueueConcurrent(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	for i := range 6 {
		rel := b.newRelease(t, "r"+string(rune('a'+i)))
		for range i + 1 {
			b.addChange(t, rel, "p")
		}
	}
	at := time.Now().UTC().Truncate(time.Minute)
	const n = 12
	results := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			recorded, err := b.store.SampleQueue(b.ctx, at.Add(17*time.Second))
			results <- recorded
			errs <- err
		}()
	}
	recorded := 0
	for range n {
		require.NoError(t, <-errs)
		if <-results {
			recorded++
		}
	}
	require.Equal(t, 1, recorded)
	var rows, perRelease, total, mark int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `
		SELECT count(*), coalesce(sum(jobs) FILTER (WHERE release_id <> 0), 0),
			coalesce(sum(jobs) FILTER (WHERE release_id = 0 AND state <> 'all'), 0),
			coalesce(sum(jobs) FILTER (WHERE state = 'all'), 0)
		FROM queue_samples WHERE at = $1`, at).Scan(&rows, &perRelease, &total, &mark))
	require.Equal(t, [4]int{6 + 1 + 1, 21, 21, 21}, [4]int{rows, perRelease, total, mark})
}

// seedSamples fills queue_samples with SampleRetention's worth of minutes
// before end, for n releases (the given ones first, then ids no release
// has: samples have no foreign key): release r at minute m has
// (7r+m) mod 5 queued jobs and, every third minute, one awaiting its
// signature; then the totals and marks, as SampleQueue writes them.
func seedSamples(t testing.TB, s *store.Store, end time.Time, releases []int64, n int) {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(1_000_000 + i)
		if i < len(releases) {
			ids[i] = releases[i]
		}
	}
	at, minutes := end.UTC().Truncate(time.Minute), int(store.SampleRetention/time.Minute)
	start := time.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{{`
		INSERT INTO queue_samples (at, release_id, state, jobs)
		SELECT $1::timestamptz - make_interval(mins => m), rel, st.state, st.jobs
		FROM generate_series(0, $2::int - 1) m, unnest($3::bigint[]) rel,
			LATERAL (VALUES ('queued', ((7 * rel + m) % 5)::int),
				('awaiting_signature', ((m + rel) % 3 = 0)::int)) st(state, jobs)
		WHERE st.jobs > 0`, []any{at, minutes, ids}}, {`
		INSERT INTO queue_samples (at, release_id, state, jobs)
		SELECT at, 0, state, sum(jobs) FROM queue_samples GROUP BY at, state`, nil}, {`
		INSERT INTO queue_samples (at, release_id, state, jobs)
		SELECT $1::timestamptz - make_interval(mins => m), 0, 'all',
			coalesce((SELECT sum(jobs) FROM queue_samples WHERE release_id = 0 AND at = $1::timestamptz - make_interval(mins => m)), 0)
		FROM generate_series(0, $2::int - 1) m`, []any{at, minutes}},
		{`VACUUM ANALYZE queue_samples`, nil},
	} {
		_, err := s.Pool.Exec(context.Background(), q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	var rows int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM queue_samples`).Scan(&rows))
	t.Logf("seeded %d queue samples of %d releases in %s", rows, n, time.Since(start).Round(time.Millisecond))
}
