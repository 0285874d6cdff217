package store

import (
	"context"
	"time"
)

// The queue depth over a window: the elected worker samples the open jobs
// each minute (migration 0027), and a chart reads the samples' peaks.

// SampleAll is the state of a sample's row of every open job of every
// release, written at each sampled minute even when it is zero: the mark
// of a minute that was sampled.
const SampleAll = "all"

// SampleRetention is how long samples are kept: the longest window a
// chart shows (7 days) and a day to spare.
const SampleRetention = 8 * 24 * time.Hour

// SampleQueue records the open jobs at at's minute, per release and state
// and in total, unless that minute has a sample already (a retry, or two
// leaders at once: the first writer's mark makes the second's statement
// insert nothing), and deletes the samples older than SampleRetention. It
// reports whether it recorded the minute.
func (s *Store) SampleQueue(ctx context.Context, at time.Time) (bool, error) {
	at = at.UTC().Truncate(time.Minute)
	// One statement, so one snapshot: the total and the per-state rows
	// count the same jobs.
	var marked int
	err := s.Pool.QueryRow(ctx, `
		WITH open AS MATERIALIZED (`+openJobsSQL+`
		), pruned AS (
			DELETE FROM queue_samples WHERE at < $1::timestamptz - make_interval(secs => $2)
		), mark AS (
			INSERT INTO queue_samples (at, release_id, state, jobs)
			SELECT $1, 0, $3, count(*) FROM open
			ON CONFLICT DO NOTHING RETURNING 1
		), counts AS (
			INSERT INTO queue_samples (at, release_id, state, jobs)
			SELECT $1, coalesce(release_id, 0), state, count(*) FROM open
			WHERE EXISTS (SELECT FROM mark)
			GROUP BY GROUPING SETS ((release_id, state), (state))
			ON CONFLICT DO NOTHING
		)
		SELECT count(*) FROM mark`, at, SampleRetention.Seconds(), SampleAll).Scan(&marked)
	if err != nil {
		return false, translate("sample queue", err)
	}
	return marked > 0, nil
}

// DepthBucket is one bucket of a window: per state, the most open jobs any
// sample in it counted. Sampled is false for a bucket without any sample
// (no worker ran): its zeros are unknowns, not an empty queue.
type DepthBucket struct {
	At      time.Time
	Sampled bool
	Jobs    map[string]int
}

func queueDepthQuery(releaseID int64, start, end time.Time, step time.Duration) query {
	samples := `SELECT at, state, jobs FROM queue_samples WHERE release_id = 0 AND at >= $1 AND at < $2`
	if releaseID != 0 {
		// The release's rows, and the marks of the sampled minutes (a
		// release without open jobs has no rows of its own).
		samples = `SELECT at, state, jobs FROM queue_samples WHERE release_id = $4 AND at >= $1 AND at < $2
			UNION ALL SELECT at, state, 0 FROM queue_samples
			WHERE release_id = 0 AND state = '` + SampleAll + `' AND at >= $1 AND at < $2`
	}
	args := []any{start, end, step.Seconds()}
	if releaseID != 0 {
		args = append(args, releaseID)
	}
	return query{Name: "queue depth" + variant(releaseID), Args: args, SQL: `
		SELECT date_bin(make_interval(secs => $3), at, $1), state, max(jobs)
		FROM (` + samples + `) s
		GROUP BY 1, 2`}
}

// QueueDepth returns every bucket of [start, end) in steps of step, from
// start, with the peak of the open jobs of the release (0: of every
// release) by state in the samples of the bucket; a state without jobs in
// a sampled bucket is absent (zero). The total is not a state of the
// answer.
func (s *Store) QueueDepth(ctx context.Context, releaseID int64, start, end time.Time, step time.Duration) ([]DepthBucket, error) {
	q := queueDepthQuery(releaseID, start, end, step)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	defer rows.Close()
	var out []DepthBucket
	for at := start; at.Before(end); at = at.Add(step) {
		out = append(out, DepthBucket{At: at, Jobs: map[string]int{}})
	}
	for rows.Next() {
		var at time.Time
		var state string
		var jobs int
		if err := rows.Scan(&at, &state, &jobs); err != nil {
			return nil, translate(q.Name, err)
		}
		i := int(at.Sub(start) / step)
		if i < 0 || i >= len(out) {
			continue
		}
		if state == SampleAll {
			out[i].Sampled = true
		} else {
			out[i].Jobs[state] = jobs
		}
	}
	return out, translate(q.Name, rows.Err())
}
