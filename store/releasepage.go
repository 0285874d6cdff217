package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// A release's page on the operator's web page: its generations, rounds
// and latest jobs, each read through a release-first index.

// ReleaseInfo names a release and its owners, for a page that shows it.
type ReleaseInfo struct {
	TenantID            int64
	Tenant, Repo, Name  string
	ID                  int64
	Generation          int64
	PublishedGeneration int64
}

// ReleaseByPath finds a release by its tenant's, repository's and own
// names; ErrNotFound when any is unknown.
func (s *Store) ReleaseByPath(ctx context.Context, tenant, repo, release string) (ReleaseInfo, error) {
	var r ReleaseInfo
	err := s.Pool.QueryRow(ctx, `
		SELECT t.id, t.name, repo.name, rel.name, rel.id, rel.generation, rel.published_generation
		FROM releases rel
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		WHERE t.name = $1 AND repo.name = $2 AND rel.name = $3`, tenant, repo, release).
		Scan(&r.TenantID, &r.Tenant, &r.Repo, &r.Name, &r.ID, &r.Generation, &r.PublishedGeneration)
	return r, translate("release "+tenant+"/"+repo+"/"+release, err)
}

// GenerationRow is a committed generation in a release's page.
type GenerationRow struct {
	Generation  int64
	RoundID     int64
	Date        time.Time
	PublishedAt *time.Time
	Signers     []string
	Changes     int
}

func generationsQuery(releaseID int64, limit int) query {
	return query{Name: "release generations", Args: []any{releaseID, limit}, SQL: `
		SELECT r.generation, r.id, r.release_date, r.published_at, coalesce(r.signers, '{}'),
			(SELECT count(*) FROM changes c WHERE c.round_id = r.id)::int
		FROM rounds r
		WHERE r.release_id = $1 AND r.state IN ('committed', 'published')
		ORDER BY r.generation DESC LIMIT $2`}
}

// ReleaseGenerations lists a release's latest committed generations,
// newest first. (History says more, at a cost that grows with the
// release's whole history.)
func (s *Store) ReleaseGenerations(ctx context.Context, releaseID int64, limit int) ([]GenerationRow, error) {
	q := generationsQuery(releaseID, limit)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[GenerationRow])
	return out, translate(q.Name, err)
}

func releaseRoundsQuery(releaseID int64, limit int) query {
	return query{Name: "release rounds", SQL: recentRoundsSQL("WHERE r.release_id = $2"), Args: []any{limit, releaseID}}
}

// ReleaseRounds lists a release's latest rounds, newest first.
func (s *Store) ReleaseRounds(ctx context.Context, releaseID int64, limit int) ([]RoundOverview, error) {
	return s.recentRounds(ctx, releaseRoundsQuery(releaseID, limit))
}

func releaseJobsQuery(releaseID int64, limit int) query {
	// The limit applies to the release's changes first, so that they are
	// read newest first from the release's index, whatever the planner
	// guesses of the joins.
	return query{Name: "release jobs", Args: []any{releaseID, limit}, SQL: jobListSQL(`(
		SELECT * FROM changes WHERE release_id = $1 AND job_id IS NOT NULL ORDER BY job_id DESC LIMIT $2)`) + `
		ORDER BY c.job_id DESC`}
}

// ReleaseJobs lists a release's latest jobs, newest first.
func (s *Store) ReleaseJobs(ctx context.Context, releaseID int64, limit int) ([]JobView, error) {
	q := releaseJobsQuery(releaseID, limit)
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out, err := pgx.CollectRows(rows, scanListedJob)
	return out, translate(q.Name, err)
}

// pageQueries are the queries of the operator page and of a release's
// page over [start, end) in steps of step, for tests that explain and time
// them on a seeded database.
func pageQueries(releaseID int64, start, end time.Time, step time.Duration) []query {
	return []query{
		roundBucketsQuery(0, start, end, step),
		roundBucketsQuery(releaseID, start, end, step),
		openJobsQuery(0),
		openJobsQuery(releaseID),
		queueDepthQuery(0, start, end, step),
		queueDepthQuery(releaseID, start, end, step),
		busiestQuery(10),
		generationsQuery(releaseID, 20),
		releaseRoundsQuery(releaseID, 20),
		releaseJobsQuery(releaseID, 20),
		{Name: "recent rounds", SQL: recentRoundsSQL(""), Args: []any{20}},
	}
}
