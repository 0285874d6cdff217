package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Repair is one thing a reconcile found wrong in S3 and what it did.
type Repair struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
	Action  string `json:"action"`
}

// ReconcileReport is what a reconcile of a release found.
type ReconcileReport struct {
	ID         int64
	ReleaseID  int64
	JobID      *int64
	Generation int64
	Checked    int
	Repairs    []Repair
	Outcome    string
	CreatedAt  time.Time
}

// InsertReconcileReport stores a report and wakes whoever waits on the release.
func (s *Store) InsertReconcileReport(ctx context.Context, r ReconcileReport) error {
	if r.Repairs == nil {
		r.Repairs = []Repair{}
	}
	repairs, _ := json.Marshal(r.Repairs)
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO reconcile_reports (release_id, job_id, generation, checked, repairs, outcome)
			VALUES ($1, $2, $3, $4, $5, $6)`, r.ReleaseID, r.JobID, r.Generation, r.Checked, repairs, r.Outcome); err != nil {
			return translate("insert reconcile report", err)
		}
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
}

// ReconcileReports lists a release's latest reports, newest first.
func (s *Store) ReconcileReports(ctx context.Context, releaseID int64, limit int) ([]ReconcileReport, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, release_id, job_id, generation, checked, repairs, outcome, created_at
		FROM reconcile_reports WHERE release_id = $1 ORDER BY id DESC LIMIT $2`, releaseID, limit)
	if err != nil {
		return nil, translate("reconcile reports", err)
	}
	defer rows.Close()
	var out []ReconcileReport
	for rows.Next() {
		var r ReconcileReport
		var repairs []byte
		if err := rows.Scan(&r.ID, &r.ReleaseID, &r.JobID, &r.Generation, &r.Checked, &repairs, &r.Outcome, &r.CreatedAt); err != nil {
			return nil, translate("reconcile reports", err)
		}
		if err := json.Unmarshal(repairs, &r.Repairs); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, translate("reconcile reports", rows.Err())
}

// RoundOfGeneration returns the committed (or published) round that made a generation.
func (s *Store) RoundOfGeneration(ctx context.Context, releaseID, generation int64) (Round, error) {
	r, err := scanRound(s.Pool.QueryRow(ctx, `SELECT `+roundColumns+` FROM rounds
		WHERE release_id = $1 AND generation = $2 AND state IN ('committed', 'published')`, releaseID, generation))
	return r, translate("round of generation", err)
}

// SetInReleaseETag records the ETag of the InRelease in S3 for the release's
// current generation (after a repair replaced it).
func (s *Store) SetInReleaseETag(ctx context.Context, releaseID, generation int64, etag string) error {
	_, err := s.Pool.Exec(ctx, `
		UPDATE releases SET inrelease_etag = $3, published_generation = greatest(published_generation, $2)
		WHERE id = $1 AND generation = $2`, releaseID, generation, etag)
	return translate("set InRelease ETag", err)
}

// ReleaseRef names a release and its repository.
type ReleaseRef struct {
	ID           int64
	RepositoryID int64
}

// ReleaseRefs lists every release, for the periodic maintenance fan-out.
func (s *Store) ReleaseRefs(ctx context.Context) ([]ReleaseRef, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, repository_id FROM releases ORDER BY id`)
	if err != nil {
		return nil, translate("list releases", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ReleaseRef])
	return refs, translate("list releases", err)
}

// ByHashInUse returns the SHA-256 and SHA-512 sums of every index file that
// the last keep generations of the release name, or that an unfinished
// round is about to: garbage collection must not delete those.
func (s *Store) ByHashInUse(ctx context.Context, releaseID int64, keep int) (map[string]bool, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT f.sha256, f.sha512 FROM release_files f JOIN releases r ON r.id = f.release_id
		WHERE f.release_id = $1 AND f.generation > r.generation - $2
		UNION ALL
		SELECT x.sha256, x.sha512 FROM rounds o, jsonb_to_recordset(o.files) AS x(sha256 text, sha512 text)
		WHERE o.release_id = $1 AND o.state IN ('awaiting_signature', 'signed', 'committed')`, releaseID, keep)
	if err != nil {
		return nil, translate("by-hash in use", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, translate("by-hash in use", err)
		}
		out[a], out[b] = true, true
	}
	return out, translate("by-hash in use", rows.Err())
}

// PoolInUse returns the pool files of a repository that must stay: named by
// a release's membership, by an unfinished change, or removed less than
// grace ago; with a source package, every file it lists (an orig tarball
// stays while any source names it).
func (s *Store) PoolInUse(ctx context.Context, repoID int64, grace time.Duration) (inUse map[string]bool, err error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT rp.filename FROM release_packages rp JOIN releases r ON r.id = rp.release_id
		WHERE r.repository_id = $1
		UNION
		SELECT a.filename FROM changes c JOIN releases r ON r.id = c.release_id,
			jsonb_to_recordset(c.adds) AS a(filename text)
		WHERE r.repository_id = $1 AND c.state IN ('pending', 'in_round')
		UNION
		SELECT filename FROM pool_removals WHERE repository_id = $1 AND removed_at > now() - $2::interval
		UNION
		SELECT regexp_replace(rp.filename, '[^/]*$', '') || sf.name
		FROM release_packages rp JOIN releases r ON r.id = rp.release_id JOIN source_files sf ON sf.package_id = rp.package_id
		WHERE r.repository_id = $1
		UNION
		SELECT regexp_replace(a.filename, '[^/]*$', '') || sf.name FROM changes c JOIN releases r ON r.id = c.release_id,
			jsonb_to_recordset(c.adds) AS a(filename text, package_id bigint) JOIN source_files sf ON sf.package_id = a.package_id
		WHERE r.repository_id = $1 AND c.state IN ('pending', 'in_round')`,
		repoID, grace)
	if err != nil {
		return nil, translate("pool in use", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, translate("pool in use", err)
	}
	inUse = make(map[string]bool, len(names))
	for _, n := range names {
		inUse[n] = true
	}
	return inUse, nil
}

// Now is the database clock, which orders everything aptq compares times with.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.Pool.QueryRow(ctx, `SELECT now()`).Scan(&t)
	return t, translate("now", err)
}
