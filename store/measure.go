package store

import (
	"context"
	"fmt"
	"time"
)

// The queries below measure what a benchmark did (aptq-bench runs a system
// of its own on a database of its own): releases are named without their
// repository or tenant, which is unambiguous only there.

// RoundStats are the published rounds of some releases.
type RoundStats struct {
	Rounds     int
	Changes    int
	MaxChanges int // changes in the largest round
}

// PublishedRoundStats counts the published rounds of the releases named.
func (s *Store) PublishedRoundStats(ctx context.Context, releases []string) (RoundStats, error) {
	var rs RoundStats
	err := s.Pool.QueryRow(ctx, `
		SELECT count(*), coalesce(sum(n), 0), coalesce(max(n), 0) FROM (
			SELECT (SELECT count(*) FROM changes c WHERE c.round_id = r.id) AS n
			FROM rounds r JOIN releases rel ON rel.id = r.release_id
			WHERE r.state = 'published' AND rel.name = ANY($1)) per_round`, releases).
		Scan(&rs.Rounds, &rs.Changes, &rs.MaxChanges)
	return rs, translate("round stats", err)
}

// RoundTimes are when a published round's steps ended, by the database clock.
type RoundTimes struct {
	FirstChange, Cut, Signed, Committed, Published time.Time
}

// PublishedRoundTimes returns the times of the published round that made
// generation of the release named.
func (s *Store) PublishedRoundTimes(ctx context.Context, release string, generation int64) (RoundTimes, error) {
	var t RoundTimes
	err := s.Pool.QueryRow(ctx, `
		SELECT (SELECT min(c.created_at) FROM changes c WHERE c.round_id = r.id),
			r.created_at, r.signed_at, r.committed_at, r.published_at
		FROM rounds r JOIN releases rel ON rel.id = r.release_id
		WHERE rel.name = $1 AND r.generation = $2 AND r.state = 'published'`, release, generation).
		Scan(&t.FirstChange, &t.Cut, &t.Signed, &t.Committed, &t.Published)
	return t, translate(fmt.Sprintf("round of generation %d", generation), err)
}

// PublishedRoundBytes returns what the published round that made generation
// of the release named wrote to S3 (its by-hash objects, the upload steps'
// bytes and InRelease: the sum aptq_round_upload_bytes counts) and the size
// of the stored index files it changed.
func (s *Store) PublishedRoundBytes(ctx context.Context, release string, generation int64) (written, changed int64, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT r.by_hash_bytes + length(r.inrelease) + coalesce((
				SELECT sum((e.detail->>'bytes')::bigint) FROM job_events e
				WHERE e.kind = 'uploaded' AND e.change_id = (SELECT min(c.id) FROM changes c WHERE c.round_id = r.id)), 0),
			coalesce((
				SELECT sum(f.size) FROM release_files f
				WHERE f.release_id = r.release_id AND f.generation = r.generation AND NOT f.listed_only
				  AND NOT EXISTS (SELECT 1 FROM release_files p WHERE p.release_id = f.release_id
					AND p.generation = f.generation - 1 AND p.path = f.path AND p.sha256 = f.sha256)), 0)
		FROM rounds r JOIN releases rel ON rel.id = r.release_id
		WHERE rel.name = $1 AND r.generation = $2 AND r.state = 'published'`, release, generation).
		Scan(&written, &changed)
	return written, changed, translate(fmt.Sprintf("bytes of generation %d", generation), err)
}

// PackageBlobKeys lists where every uploaded package of the database is
// kept (PackageBlobKey), for a benchmark that deletes what it wrote.
func (s *Store) PackageBlobKeys(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT tenant_id, sha256 FROM packages`)
	if err != nil {
		return nil, translate("package keys", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var tenant int64
		var sum string
		if err := rows.Scan(&tenant, &sum); err != nil {
			return nil, translate("package keys", err)
		}
		keys = append(keys, PackageBlobKey(tenant, sum))
	}
	return keys, translate("package keys", rows.Err())
}
