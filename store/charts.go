package store

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// The operator page's charts: read-only queries over a window of time,
// across every release or for one. Each reads through an index of
// migration 0025 (TestChartQueriesUseIndexes checks the plans), so that
// the page stays fast on a database with millions of jobs.

// ChartBucket is one bucket of a window: the rounds that ended in it. The
// durations are seconds; NaN where no round of the kind ended there.
type ChartBucket struct {
	At                 time.Time
	Published, Failed  int
	RoundP50, RoundP95 float64 // a published round: from its cut to its publication
	SignP50, SignP95   float64 // a signed round: from its cut to its accepted signature
}

// query is one of the chart queries, for tests that explain and time them.
type query struct {
	Name string
	SQL  string
	Args []any
}

// releaseCond is a condition on a table's release_id when releaseID is set:
// a separate text, not "$n = 0 OR …", so that a generic plan still uses
// the release's index.
func releaseCond(alias string, releaseID int64, n string) (string, []any) {
	if releaseID == 0 {
		return "", nil
	}
	return " AND " + alias + "release_id = " + n, []any{releaseID}
}

// variant names a query's release variant.
func variant(releaseID int64) string {
	if releaseID == 0 {
		return ""
	}
	return " (release)"
}

// rollupStep says whether buckets of step are read from the hourly rollup
// (round_hours): whole hours are; shorter buckets read the rounds.
func rollupStep(step time.Duration) bool { return step >= time.Hour && step%time.Hour == 0 }

func roundBucketsQuery(releaseID int64, start, end time.Time, step time.Duration) query {
	if rollupStep(step) {
		return query{Name: "round hours" + variant(releaseID), Args: []any{releaseID, start, end}, SQL: `
		SELECT hour, published, failed, round_hist, sign_hist FROM round_hours
		WHERE release_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`}
	}
	cond, extra := releaseCond("", releaseID, "$4")
	return query{Name: "round buckets" + variant(releaseID), Args: append([]any{start, end, step.Seconds()}, extra...), SQL: `
		SELECT date_bin(make_interval(secs => $3), finished_at, $1) AS bucket,
			count(*) FILTER (WHERE state = 'published'), count(*) FILTER (WHERE state = 'failed'),
			percentile_cont('{0.5,0.95}'::float8[]) WITHIN GROUP (ORDER BY date_part('epoch', finished_at - created_at))
				FILTER (WHERE state = 'published'),
			percentile_cont('{0.5,0.95}'::float8[]) WITHIN GROUP (ORDER BY date_part('epoch', signed_at - created_at))
				FILTER (WHERE signed_at IS NOT NULL)
		FROM rounds
		WHERE finished_at IS NOT NULL AND finished_at >= $1 AND finished_at < $2` + cond + `
		GROUP BY 1 ORDER BY 1`}
}

// RoundBuckets returns every bucket of [start, end) in steps of step, from
// start, with the rounds of the release (0: of every release) that ended
// in it; a bucket without rounds has zero counts.
func (s *Store) RoundBuckets(ctx context.Context, releaseID int64, start, end time.Time, step time.Duration) ([]ChartBucket, error) {
	if rollupStep(step) {
		return s.roundHours(ctx, releaseID, start, end, step)
	}
	q := roundBucketsQuery(releaseID, start, end, step)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ChartBucket, error) {
		var b ChartBucket
		var round, sign []float64 // p50 and p95; nil when no round of the kind
		err := row.Scan(&b.At, &b.Published, &b.Failed, &round, &sign)
		b.RoundP50, b.RoundP95 = quantiles(round)
		b.SignP50, b.SignP95 = quantiles(sign)
		return b, err
	})
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out := emptyBuckets(start, end, step)
	for _, b := range got {
		if i := int(b.At.Sub(start) / step); i >= 0 && i < len(out) {
			out[i] = b
		}
	}
	return out, nil
}

func emptyBuckets(start, end time.Time, step time.Duration) []ChartBucket {
	var out []ChartBucket
	for at := start; at.Before(end); at = at.Add(step) {
		out = append(out, ChartBucket{At: at, RoundP50: math.NaN(), RoundP95: math.NaN(), SignP50: math.NaN(), SignP95: math.NaN()})
	}
	return out
}

// histBuckets is the size of round_hours' histograms; the last element
// counts the rounds without the duration, and no quantile reads it.
const histBuckets = 97

// roundHours is RoundBuckets from the hourly rollup: each bucket sums its
// hours, and its quantiles are read from the summed histograms, to within
// the histogram's resolution (a bucket is 19% wide; the value reported is
// its geometric middle).
func (s *Store) roundHours(ctx context.Context, releaseID int64, start, end time.Time, step time.Duration) ([]ChartBucket, error) {
	q := roundBucketsQuery(releaseID, start, end, step)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	defer rows.Close()
	out := emptyBuckets(start, end, step)
	hists := make([][2][histBuckets]int, len(out))
	for rows.Next() {
		var hour time.Time
		var published, failed int
		var round, sign []int32
		if err := rows.Scan(&hour, &published, &failed, &round, &sign); err != nil {
			return nil, translate(q.Name, err)
		}
		i := int(hour.Sub(start) / step)
		if i < 0 || i >= len(out) {
			continue
		}
		out[i].Published += published
		out[i].Failed += failed
		for k := 0; k < histBuckets && k < len(round) && k < len(sign); k++ {
			hists[i][0][k] += int(round[k])
			hists[i][1][k] += int(sign[k])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(q.Name, err)
	}
	for i := range out {
		out[i].RoundP50, out[i].RoundP95 = histQuantile(hists[i][0][:histBuckets-1], 0.5), histQuantile(hists[i][0][:histBuckets-1], 0.95)
		out[i].SignP50, out[i].SignP95 = histQuantile(hists[i][1][:histBuckets-1], 0.5), histQuantile(hists[i][1][:histBuckets-1], 0.95)
	}
	return out, nil
}

// histQuantile reads the q-quantile, in seconds, of a histogram whose
// element k counts durations in [2^(k/4), 2^((k+1)/4)) ms; NaN when empty.
func histQuantile(hist []int, q float64) float64 {
	total := 0
	for _, n := range hist {
		total += n
	}
	if total == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(total)))
	cum := 0
	for k, n := range hist {
		cum += n
		if cum >= max(rank, 1) {
			return math.Pow(2, (float64(k)+0.5)/4) / 1000
		}
	}
	return math.NaN()
}

// quantiles reads percentile_cont's p50 and p95; NaN without any.
func quantiles(q []float64) (p50, p95 float64) {
	if len(q) != 2 {
		return math.NaN(), math.NaN()
	}
	return q[0], q[1]
}

// StateCount is how many jobs are in a state.
type StateCount struct {
	State string
	Count int
}

// openJobsSQL selects the open changes c (alias c) with their state as
// clients see it: queued, then their round's. The queue depth samples
// (queuesamples.go) count the same.
const openJobsSQL = `
		SELECT c.release_id, CASE WHEN c.state = 'pending' THEN 'queued'
			ELSE coalesce((SELECT r.state FROM rounds r WHERE r.id = c.round_id), 'in_round') END AS state
		FROM changes c
		WHERE c.state IN ('pending', 'in_round')`

func openJobsQuery(releaseID int64) query {
	cond, extra := releaseCond("c.", releaseID, "$1")
	return query{Name: "open jobs" + variant(releaseID), Args: extra, SQL: `
		SELECT state, count(*) FROM (` + openJobsSQL + cond + `) o
		GROUP BY 1 ORDER BY 1`}
}

// OpenJobs counts the jobs not yet ended of the release (0: of every
// release) by their state as clients see it: queued, then their round's.
func (s *Store) OpenJobs(ctx context.Context, releaseID int64) ([]StateCount, error) {
	q := openJobsQuery(releaseID)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StateCount])
	return out, translate(q.Name, err)
}

// ReleasePending is a release and its count of queued changes.
type ReleasePending struct {
	Tenant, Repo, Release string
	Pending               int
}

func busiestQuery(limit int) query {
	return query{Name: "busiest releases", Args: []any{limit}, SQL: `
		SELECT t.name, repo.name, rel.name, p.n
		FROM (SELECT release_id, count(*) AS n FROM changes WHERE state = 'pending'
			GROUP BY release_id ORDER BY n DESC, release_id LIMIT $1) p
		JOIN releases rel ON rel.id = p.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		ORDER BY p.n DESC, rel.id`}
}

// BusiestReleases lists the releases with the most queued changes, most first.
func (s *Store) BusiestReleases(ctx context.Context, limit int) ([]ReleasePending, error) {
	q := busiestQuery(limit)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ReleasePending])
	return out, translate(q.Name, err)
}
