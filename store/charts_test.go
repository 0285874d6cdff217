package store_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// chartSeed is what seedCharts wrote: jobs changes, a tenth as many rounds
// evenly over the days before end, spread over the releases, and a
// two-hundredth of the jobs still queued, on few releases; and 30 old jobs
// of a quiet release.
type chartSeed struct {
	end              time.Time
	releases         []int64
	quiet            int64 // a release with a few old jobs only, outside releases
	rounds, failed   int
	queued           int
	busiest          int // queued changes of the busiest release
	roundsOfFirst    int // rounds of releases[0]
	publishedOfFirst int
}

// seedCharts fills a fresh database with jobs (changes with job ids),
// rounds and events in one statement of generate_series.
func seedCharts(t testing.TB, s *store.Store, jobs, days int) chartSeed {
	t.Helper()
	ctx := context.Background()
	seed := chartSeed{end: time.Now().UTC().Truncate(time.Minute)}
	tenant, _, err := s.CreateTenant(ctx, "charts")
	require.NoError(t, err)
	for r := range 5 {
		repo, err := s.CreateRepository(ctx, tenant, fmt.Sprintf("repo%d", r))
		require.NoError(t, err)
		for d := range 10 {
			rel, err := s.CreateRelease(ctx, store.Release{RepositoryID: repo.ID, Name: fmt.Sprintf("rel%d", d),
				Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
			require.NoError(t, err)
			seed.releases = append(seed.releases, rel.ID)
		}
	}
	quiet, err := s.CreateRelease(ctx, store.Release{RepositoryID: s0repo(t, s, tenant), Name: "quiet",
		Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	seed.quiet = quiet.ID
	seed.queued = jobs / 200
	seed.rounds = (jobs - seed.queued + 9) / 10
	seed.failed = seed.rounds / 50
	r := len(seed.releases)
	for i := 1; i <= seed.rounds; i++ {
		if (i-1)%r == 0 {
			seed.roundsOfFirst++
			if i%50 != 0 {
				seed.publishedOfFirst++
			}
		}
	}
	// Queued change k goes to release floor(sqrt(k)) mod r: a few busy ones.
	perRelease := map[int]int{}
	for k := range seed.queued {
		perRelease[int(math.Sqrt(float64(k)))%r]++
	}
	for _, n := range perRelease {
		seed.busiest = max(seed.busiest, n)
	}

	// A Release of a small repository: its bytes make a round's row what
	// it is in life, wider than the chart's covering indexes.
	releaseBytes := []byte(strings.Repeat("SHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages\n", 12))
	start := time.Now()
	_, err = s.Pool.Exec(ctx, `
		WITH r AS (
			SELECT i, ($1::bigint[])[1 + (i - 1) % cardinality($1::bigint[])] AS release_id,
				(i - 1) / cardinality($1::bigint[]) + 1 AS generation,
				CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'published' END AS state,
				$2::timestamptz - ($3 - i) * (make_interval(days => $7) / $3) - interval '1 second' AS finished,
				make_interval(secs => 2 + i % 30) AS took, make_interval(secs => 1 + i % 7) AS sign
			FROM generate_series(1, $3::int) i
		), rounds_in AS (
			INSERT INTO rounds (id, release_id, generation, state, release_date, release_bytes, files,
				signature_deadline, created_at, signed_at, published_at, finished_at, signers)
			OVERRIDING SYSTEM VALUE
			SELECT i, release_id, generation, state, finished - took, $6::bytea, '[]', finished - took + interval '2 minutes',
				finished - took, CASE WHEN state = 'published' THEN finished - took + sign END,
				CASE WHEN state = 'published' THEN finished END, finished, '{ABCDEF0123456789}'
			FROM r
		), c AS (
			SELECT 30 + j AS j, r.release_id, r.state, r.i AS round_id, r.finished - r.took - make_interval(secs => j % 60) AS created,
				r.finished AS updated
			FROM generate_series(1, $4::int) j JOIN r ON r.i = (j - 1) / 10 + 1
			UNION ALL
			SELECT 30 + $4 + k + 1, ($1::bigint[])[1 + floor(sqrt(k))::int % cardinality($1::bigint[])], 'pending', NULL,
				$2::timestamptz - make_interval(secs => k), $2::timestamptz - make_interval(secs => k)
			FROM generate_series(0, $5::int - 1) k
		), changes_in AS (
			INSERT INTO changes (id, release_id, job_id, state, round_id, created_at, updated_at)
			OVERRIDING SYSTEM VALUE
			SELECT j, release_id, j, state, round_id, created, updated FROM c
			UNION ALL -- the quiet release's jobs, the oldest of all
			SELECT q, $8::bigint, q, 'published', NULL, $2::timestamptz - interval '60 days', $2::timestamptz - interval '60 days'
			FROM generate_series(1, 30) q
		)
		INSERT INTO job_events (change_id, kind, detail, at)
		SELECT j, 'enqueued', '{}', created FROM c
		UNION ALL
		SELECT j, 'round_cut', jsonb_build_object('round_id', round_id, 'changes', 10), created + interval '1 second'
		FROM c WHERE round_id IS NOT NULL`,
		seed.releases, seed.end, seed.rounds, jobs-seed.queued, seed.queued, releaseBytes, days, seed.quiet)
	require.NoError(t, err)
	for _, q := range []string{
		`SELECT setval(pg_get_serial_sequence('rounds', 'id'), (SELECT max(id) FROM rounds))`,
		`SELECT setval(pg_get_serial_sequence('changes', 'id'), (SELECT max(id) FROM changes))`,
		// What the trigger does when a round ends, for the seeded ones.
		`SELECT count(round_hours_record(release_id, state, created_at, signed_at, finished_at))
			FROM rounds WHERE finished_at IS NOT NULL`,
		`VACUUM ANALYZE rounds, changes, job_events, round_hours`,
	} {
		_, err := s.Pool.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	t.Logf("seeded %d jobs, %d rounds, %d events in %s", jobs, seed.rounds, 2*jobs-seed.queued,
		time.Since(start).Round(time.Millisecond))
	return seed
}

// chartWindows are the page's windows and their buckets (api/ui_charts.go).
var chartWindows = []struct {
	name       string
	span, step time.Duration
}{{"1h", time.Hour, time.Minute}, {"24h", 24 * time.Hour, 15 * time.Minute}, {"7d", 7 * 24 * time.Hour, 2 * time.Hour}}

// chartIndexes are the indexes (a regular expression) each query must
// read on a busy release's page and on a quiet one's (migration 0025's,
// and a few older ones): dropping one fails a plan even where the planner
// would find another index to scan slowly.
var chartIndexes = map[string][2]string{
	"round buckets":           {"rounds_finished_idx", "rounds_finished_idx"},
	"round buckets (release)": {"rounds_release_finished_idx", "rounds_release_(finished|id)_idx"},
	"round hours":             {"round_hours_pkey", "round_hours_pkey"},
	"round hours (release)":   {"round_hours_pkey", "round_hours_pkey"},
	"queue depth":             {"queue_samples_pkey", "queue_samples_pkey"},
	"queue depth (release)":   {"queue_samples_pkey", "queue_samples_pkey"},
	"open jobs":               {"changes_open_idx", "changes_open_idx"},
	"open jobs (release)":     {"changes_open_idx", "changes_open_idx"},
	"busiest releases":        {"changes_release_pending_idx", "changes_release_pending_idx"},
	"release generations":     {"rounds_release_generation_idx", "rounds_release_generation_idx"},
	"release rounds":          {"rounds_release_id_idx", "rounds_release_id_idx"},
	// A busy release's newest jobs are as quickly found among all jobs.
	"release jobs":  {"changes_(release_job|job_id)_idx", "changes_release_job_idx"},
	"recent rounds": {"rounds_pkey", "rounds_pkey"},
}

// seqScanOnBigTable finds a sequential scan of the tables that grow with
// the jobs in a plan.
var seqScanOnBigTable = regexp.MustCompile(`Seq Scan on (rounds|changes|job_events|round_hours|queue_samples)\b`)

// s0repo is the seed's first repository.
func s0repo(t testing.TB, s *store.Store, tenant store.Tenant) int64 {
	t.Helper()
	repo, err := s.Repository(context.Background(), tenant.ID, "repo0")
	require.NoError(t, err)
	return repo.ID
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// TestChartQueriesUseIndexes seeds jobs (20 000, or APTQ_UI_SEED_JOBS) over
// 30 days (or APTQ_UI_SEED_DAYS),
// checks what the chart queries answer and that no plan of the page's
// queries scans a big table whole (the check that fails when an index of
// migration 0025 is dropped), then times each query over 20 runs.
func TestChartQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	jobs := envInt(t, "APTQ_UI_SEED_JOBS", 20000)
	s := storetest.NewStore(t)
	ctx := context.Background()
	days := envInt(t, "APTQ_UI_SEED_DAYS", 30)
	seed := seedCharts(t, s, jobs, days)
	first := seed.releases[0]
	// Ten releases' samples at least: with fewer, the totals are so large
	// a part of the table that scanning it whole is the better plan.
	seedSamples(t, s, seed.end, seed.releases, envInt(t, "APTQ_UI_SEED_SAMPLE_RELEASES", 10))

	// The answers: the buckets hold the rounds that ended in the window.
	// Windows end with the bucket of their end, as the page's do.
	week := chartWindows[2]
	weekEnd := seed.end.Truncate(week.step).Add(week.step)
	sum := func(releaseID int64) (published, failed int) {
		buckets, err := s.RoundBuckets(ctx, releaseID, weekEnd.Add(-week.span), weekEnd, week.step)
		require.NoError(t, err)
		require.Len(t, buckets, int(week.span/week.step))
		for _, b := range buckets {
			published += b.Published
			failed += b.Failed
			if b.Published > 0 {
				require.GreaterOrEqual(t, b.RoundP95, b.RoundP50)
				// The rollup's histograms are exact to a bucket (19%).
				require.True(t, b.RoundP50 >= 2/1.2 && b.RoundP95 <= 31*1.2, "round durations are 2…31 s: %v", b)
				require.True(t, b.SignP50 >= 1/1.2 && b.SignP95 <= 7*1.2, "signature waits are 1…7 s: %v", b)
			}
		}
		return published, failed
	}
	var wantPublished, wantFailed, wantFirst int
	require.NoError(t, s.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'published'), count(*) FILTER (WHERE state = 'failed'),
			count(*) FILTER (WHERE state = 'published' AND release_id = $3)
		FROM rounds WHERE published_at >= $1 AND published_at < $2 OR state = 'failed' AND finished_at >= $1 AND finished_at < $2`,
		weekEnd.Add(-week.span), weekEnd, first).Scan(&wantPublished, &wantFailed, &wantFirst))
	require.Positive(t, wantFailed)
	published, failed := sum(0)
	require.Equal(t, wantPublished, published)
	require.Equal(t, wantFailed, failed)
	published, _ = sum(first)
	require.Equal(t, wantFirst, published)
	// The queue depth: every bucket of the week sampled; a release's peak
	// of (7r+m) mod 5 over 120 minutes is 4, with one awaiting a signature.
	for _, rel := range []int64{0, first} {
		depth, err := s.QueueDepth(ctx, rel, weekEnd.Add(-week.span), weekEnd, week.step)
		require.NoError(t, err)
		require.Len(t, depth, int(week.span/week.step))
		for _, d := range depth {
			require.True(t, d.Sampled, d.At)
			if rel == first {
				require.Equal(t, map[string]int{store.JobQueued: 4, store.RoundAwaitingSignature: 1}, d.Jobs, d.At)
			} else {
				require.Greater(t, d.Jobs[store.JobQueued], 4, d.At)
			}
		}
	}
	open, err := s.OpenJobs(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, []store.StateCount{{State: store.JobQueued, Count: seed.queued}}, open)
	busiest, err := s.BusiestReleases(ctx, 10)
	require.NoError(t, err)
	require.Len(t, busiest, 10)
	require.Equal(t, seed.busiest, busiest[0].Pending)
	require.True(t, slices.IsSortedFunc(busiest, func(a, b store.ReleasePending) int { return b.Pending - a.Pending }))
	gens, err := s.ReleaseGenerations(ctx, first, 20)
	require.NoError(t, err)
	require.Len(t, gens, min(20, seed.publishedOfFirst))
	require.Equal(t, 10, gens[0].Changes)
	rounds, err := s.ReleaseRounds(ctx, first, 20)
	require.NoError(t, err)
	require.Len(t, rounds, min(20, seed.roundsOfFirst))
	require.Equal(t, 10, rounds[0].Changes)
	jobViews, err := s.ReleaseJobs(ctx, first, 20)
	require.NoError(t, err)
	require.Len(t, jobViews, 20)
	for _, v := range jobViews {
		require.Equal(t, first, v.ReleaseID)
	}

	// The plans, and the times, of every query in every window.
	var table strings.Builder
	fmt.Fprintf(&table, "%d jobs, %d rounds: query times over 20 runs\n%-6s %-6s %-24s %9s %9s\n",
		jobs, seed.rounds, "window", "page", "query", "p50", "max")
	for _, w := range chartWindows {
		for page, rel := range []struct {
			name string
			id   int64
		}{{"busy", first}, {"quiet", seed.quiet}} {
			for _, q := range store.PageQueries(rel.id, seed.end.Truncate(w.step).Add(w.step-w.span), seed.end.Truncate(w.step).Add(w.step), w.step) {
				plan := explain(t, s, q, "EXPLAIN ")
				require.NotRegexp(t, seqScanOnBigTable, plan, "%s (%s window) scans a big table:\n%s", q.Name, w.name, plan)
				index := chartIndexes[q.Name][page]
				require.Regexp(t, `(using|Bitmap Index Scan on) `+index+`\b`, plan,
					"%s (%s window, %s release) does not read %s:\n%s", q.Name, w.name, rel.name, index, plan)
				times := make([]time.Duration, 20)
				for i := range times {
					start := time.Now()
					rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
					require.NoError(t, err)
					for rows.Next() {
					}
					require.NoError(t, rows.Err())
					times[i] = time.Since(start)
				}
				slices.Sort(times)
				fmt.Fprintf(&table, "%-6s %-6s %-24s %9s %9s\n", w.name, rel.name, q.Name, ms(times[len(times)/2]), ms(times[len(times)-1]))
			}
		}
	}
	// The overview's other queries, as the page calls them (River's own
	// table is not seeded: QueueDepths counts whatever it holds).
	views, err := s.ListJobs(ctx, store.JobFilter{Limit: 20})
	require.NoError(t, err)
	require.Len(t, views, 20)
	ids := make([]int64, len(views))
	for i, v := range views {
		ids[i] = v.ChangeID
	}
	for name, call := range map[string]func() error{
		"release overviews": func() error { _, err := s.ReleaseOverviews(ctx, 501); return err },
		"list jobs":         func() error { _, err := s.ListJobs(ctx, store.JobFilter{Limit: 20}); return err },
		"timelines":         func() error { _, err := s.Timelines(ctx, ids); return err },
		"queue depths":      func() error { _, err := s.QueueDepths(ctx); return err },
	} {
		times := make([]time.Duration, 20)
		for i := range times {
			start := time.Now()
			require.NoError(t, call(), name)
			times[i] = time.Since(start)
		}
		slices.Sort(times)
		fmt.Fprintf(&table, "%-6s %-6s %-24s %9s %9s\n", "-", "all", name, ms(times[len(times)/2]), ms(times[len(times)-1]))
	}
	t.Log("\n" + table.String())
	if jobs > 100000 {
		q := store.PageQueries(first, weekEnd.Add(-week.span), weekEnd, week.step)[0]
		t.Logf("%s, 7d window:\n%s", q.Name, explain(t, s, q, "EXPLAIN (ANALYZE, BUFFERS) "))
	}
}

// explain returns a query's plan.
func explain(t *testing.T, s *store.Store, q store.Query, how string) string {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), how+q.SQL, q.Args...)
	require.NoError(t, err, q.Name)
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// cutRound adds a change to rel and cuts a round of it, awaiting its
// signature, as the release's leader.
func (b *overviewBundle) cutRound(t *testing.T, rel store.Release, generation int64) store.Round {
	t.Helper()
	change := b.addChange(t, rel, "pkg-"+systest.RandomHex(4))
	lease, ok, err := b.store.AcquireLease(b.ctx, rel.ID, "worker", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(b.ctx, store.Cut{Lease: lease, Generation: generation, ReleaseDate: time.Now().UTC(),
		ReleaseBytes: []byte("Origin: x\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{change.ID},
		SignatureTimeout: time.Minute})
	require.NoError(t, err)
	return round
}

// TestRoundFinishedAt: a round that fails or is published records when,
// through migration 0025's trigger, and the charts count it in that
// minute; while it is open, its change counts as awaiting its signature.
func TestRoundFinishedAt(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	round := b.cutRound(t, b.release, 1)
	b.addChange(t, b.release, "queued")
	open, err := b.store.OpenJobs(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, []store.StateCount{{State: store.RoundAwaitingSignature, Count: 1}, {State: store.JobQueued, Count: 1}}, open)

	require.NoError(t, b.store.FailRound(b.ctx, round, "no_signature", "no signature"))
	other := b.newRelease(t, "other")
	published := b.cutRound(t, other, 1)
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE rounds SET state = 'published', published_at = now() - interval '3 seconds' WHERE id = $1`, published.ID)
	require.NoError(t, err)

	var failedAt, publishedAt, finishedAt time.Time
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT finished_at FROM rounds WHERE id = $1`, round.ID).Scan(&failedAt))
	require.WithinDuration(t, time.Now(), failedAt, time.Minute)
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT published_at, finished_at FROM rounds WHERE id = $1`,
		published.ID).Scan(&publishedAt, &finishedAt))
	require.Equal(t, publishedAt, finishedAt, "a published round ended when it was published")

	end := time.Now().Truncate(time.Minute).Add(time.Minute)
	total := func(releaseID int64) (published, failed int) {
		buckets, err := b.store.RoundBuckets(b.ctx, releaseID, end.Add(-time.Hour), end, time.Minute)
		require.NoError(t, err)
		require.Len(t, buckets, 60)
		for _, bk := range buckets {
			published += bk.Published
			failed += bk.Failed
		}
		return published, failed
	}
	p, f := total(0)
	require.Equal(t, [2]int{1, 1}, [2]int{p, f})
	p, f = total(b.release.ID)
	require.Equal(t, [2]int{0, 1}, [2]int{p, f})
	// The hourly rollup counted them too, with the published round's duration.
	week, err := b.store.RoundBuckets(b.ctx, 0, end.Truncate(2*time.Hour).Add(2*time.Hour-7*24*time.Hour),
		end.Truncate(2*time.Hour).Add(2*time.Hour), 2*time.Hour)
	require.NoError(t, err)
	last := week[len(week)-1]
	if last.Published+last.Failed == 0 { // the rounds ended in the bucket before, at its turn
		last = week[len(week)-2]
	}
	require.Equal(t, [2]int{1, 1}, [2]int{last.Published, last.Failed})
	require.False(t, math.IsNaN(last.RoundP50), "the published round's duration is in the histogram")
	open, err = b.store.OpenJobs(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, []store.StateCount{{State: store.JobQueued, Count: 1}}, open, "the failed round's change failed with it; the other is still queued")
}

// TestRoundHoursConcurrent: rounds of many releases end at once, each in
// its own transaction; the hourly rollup counts every one, in the
// all-releases row and in its release's, and no writer deadlocks.
func TestRoundHoursConcurrent(t *testing.T) {
	t.Parallel()
	b := setupOverview(t)
	const n = 40
	ids := make([]int64, n)
	for i := range ids {
		rel := b.newRelease(t, fmt.Sprintf("r%02d", i))
		require.NoError(t, b.store.Pool.QueryRow(b.ctx, `
			INSERT INTO rounds (release_id, generation, state, release_date, release_bytes, files, signature_deadline,
				created_at, signed_at)
			VALUES ($1, 1, 'signed', now(), '', '[]', now() + interval '1 minute', now() - interval '3 seconds',
				now() - interval '1 second') RETURNING id`, rel.ID).Scan(&ids[i]))
	}
	errs := make(chan error, n)
	for i, id := range ids {
		go func() {
			state, published := "published", "now()"
			if i%4 == 0 {
				state, published = "failed", "NULL"
			}
			_, err := b.store.Pool.Exec(b.ctx, `UPDATE rounds SET state = $2, published_at = `+published+` WHERE id = $1`, id, state)
			errs <- err
		}()
	}
	for range ids {
		require.NoError(t, <-errs)
	}
	var rows, published, failed, hist, releaseRows int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `
		SELECT count(*), sum(published), sum(failed),
			sum((SELECT sum(x) FROM unnest(round_hist[1:96]) x)) FROM round_hours WHERE release_id = 0`).
		Scan(&rows, &published, &failed, &hist))
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `
		SELECT count(*) FROM round_hours WHERE release_id <> 0 AND published + failed = 1`).Scan(&releaseRows))
	require.LessOrEqual(t, rows, 2, "one hour, or two across its turn")
	require.Equal(t, [4]int{n * 3 / 4, n / 4, n * 3 / 4, n}, [4]int{published, failed, hist, releaseRows})
}
