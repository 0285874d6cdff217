package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// JobView is what a client polling its job sees: the change, where it is,
// and the round it rides in.
type JobView struct {
	JobID      int64
	ChangeID   int64
	TenantID   int64
	TenantName string
	Repo       string
	Release    string
	ReleaseID  int64
	// State is the change's state, with in_round refined to its round's
	// (awaiting_signature, signed, committed); pending reads "queued".
	State        string
	Round        *Round
	ErrorCode    string
	ErrorMessage string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Submitter is the token that submitted the change; nil for changes
	// recorded before tokens were.
	Submitter *TokenRef
	// Kind is what the change does (JobKind…), from its adds and removes.
	Kind string
}

// Job kinds: what a change does to its release.
const (
	JobKindAdd       = "add"
	JobKindRemove    = "remove"
	JobKindAddRemove = "add+remove"
	JobKindResign    = "resign"   // neither: the same indexes, signed anew
	JobKindRollback  = "rollback" // a generation's membership made current again
	JobKindUpdate    = "update"   // a release update (fields, components, architectures, options)
)

// jobKindSQL yields a change's adds and removes and whether it is a
// release update or was made by a rollback (its audit entry, written in
// the change's own transaction, names it); c is the change and t its tenant.
const jobKindSQL = `jsonb_array_length(c.adds), jsonb_array_length(c.removes),
	c.settings IS NOT NULL,
	EXISTS (SELECT 1 FROM audit_log a WHERE a.tenant_id = t.id AND a.action = 'release.rollback'
		AND a.details @> jsonb_build_object('change_id', c.id))`

func jobKind(adds, removes int, update, rollback bool) string {
	switch {
	case update:
		return JobKindUpdate
	case rollback:
		return JobKindRollback
	case adds > 0 && removes > 0:
		return JobKindAddRemove
	case adds > 0:
		return JobKindAdd
	case removes > 0:
		return JobKindRemove
	}
	return JobKindResign
}

// Job states as clients see them.
const (
	JobQueued = "queued"
)

// jobPlaceColumns say where a job is: its job and change ids, tenant, repository
// and release, the first columns of JobView and ListJobs.
const jobPlaceColumns = `c.job_id, c.id, t.id, t.name, repo.name, rel.name, rel.id`

// jobFrom joins a change (c) of changes, the table or a subquery of it, to
// its release (rel), repository (repo), tenant (t) and submitting token (k).
func jobFrom(changes string) string {
	return `FROM ` + changes + ` c
		JOIN releases rel ON rel.id = c.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		LEFT JOIN api_tokens k ON k.id = c.token_id`
}

// JobView returns the tenant's job; another tenant's is ErrNotFound. A
// tenantID of 0 (an operator) sees every tenant's.
func (s *Store) JobView(ctx context.Context, tenantID, jobID int64) (JobView, error) {
	var v JobView
	var roundID, tokenID *int64
	var changeState, tokenName string
	var adds, removes int
	var update, rollback bool
	err := s.Pool.QueryRow(ctx, `
		SELECT `+jobPlaceColumns+`, c.state, c.round_id,
			coalesce(c.error_code, ''), coalesce(c.error_message, ''), c.created_at, c.updated_at,
			c.token_id, coalesce(k.name, ''), `+jobKindSQL+`
		`+jobFrom("changes")+`
		WHERE c.job_id = $1 AND ($2 = 0 OR t.id = $2)`, jobID, tenantID).
		Scan(&v.JobID, &v.ChangeID, &v.TenantID, &v.TenantName, &v.Repo, &v.Release, &v.ReleaseID,
			&changeState, &roundID, &v.ErrorCode, &v.ErrorMessage, &v.CreatedAt, &v.UpdatedAt,
			&tokenID, &tokenName, &adds, &removes, &update, &rollback)
	if err != nil {
		return v, translate("job", err)
	}
	v.Submitter = tokenRef(tokenID, tokenName)
	v.Kind = jobKind(adds, removes, update, rollback)
	if roundID != nil {
		r, err := s.RoundByID(ctx, *roundID)
		if err != nil {
			return v, err
		}
		v.Round = &r
	}
	switch {
	case changeState == ChangePending:
		v.State = JobQueued
	case changeState == ChangeInRound && v.Round != nil:
		v.State = v.Round.State
	default:
		v.State = changeState
	}
	return v, nil
}

// JobRepository returns the tenant and the repository a job's change
// belongs to, for access checks.
func (s *Store) JobRepository(ctx context.Context, jobID int64) (tenantID int64, repo string, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT repo.tenant_id, repo.name FROM changes c
		JOIN releases rel ON rel.id = c.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		WHERE c.job_id = $1`, jobID).Scan(&tenantID, &repo)
	return tenantID, repo, translate("job", err)
}

// RoundRepository returns the tenant and the repository of a round's
// release, for access checks.
func (s *Store) RoundRepository(ctx context.Context, roundID int64) (tenantID int64, repo string, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT repo.tenant_id, repo.name FROM rounds r
		JOIN releases rel ON rel.id = r.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		WHERE r.id = $1`, roundID).Scan(&tenantID, &repo)
	return tenantID, repo, translate("round", err)
}

// RoundTenant returns the tenant owning a round's release, for access checks.
func (s *Store) RoundTenant(ctx context.Context, roundID int64) (tenantID, repositoryID int64, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT repo.tenant_id, repo.id FROM rounds r
		JOIN releases rel ON rel.id = r.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		WHERE r.id = $1`, roundID).Scan(&tenantID, &repositoryID)
	return tenantID, repositoryID, translate("round", err)
}

// JobFilter selects jobs for the operator's list; zero fields match all.
type JobFilter struct {
	TenantID int64 // 0: every tenant (operators)
	Repo     string
	Repos    []string // nil: every repository (a token limited to some sees only theirs)
	Release  string
	State    string // as clients see it: queued, awaiting_signature, …, published, failed, cancelled
	Since    time.Time
	Before   int64 // cursor: jobs with a smaller id
	Limit    int
}

// ListJobs lists jobs newest first; the last job's id is the cursor of the next page.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]JobView, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := s.Pool.Query(ctx, jobListSQL("changes")+`
		WHERE c.job_id IS NOT NULL AND ($8::text[] IS NULL OR repo.name = ANY($8))
		  AND ($1 = 0 OR t.id = $1) AND ($2 = '' OR repo.name = $2) AND ($3 = '' OR rel.name = $3)
		  AND ($4::timestamptz IS NULL OR c.created_at >= $4) AND ($5 = 0 OR c.job_id < $5)
		  AND ($6 = '' OR CASE WHEN c.state = 'pending' THEN 'queued'
			     WHEN c.state = 'in_round' THEN coalesce(r.state, 'in_round') ELSE c.state END = $6)
		ORDER BY c.job_id DESC LIMIT $7`,
		f.TenantID, f.Repo, f.Release, nullTime(f.Since), f.Before, f.State, f.Limit, f.Repos)
	if err != nil {
		return nil, translate("list jobs", err)
	}
	out, err := pgx.CollectRows(rows, scanListedJob)
	return out, translate("list jobs", err)
}

// jobListSQL selects what scanListedJob reads: a change as a JobView, with
// its release, tenant, round and submitter; changes is the table, or a
// subquery of it.
func jobListSQL(changes string) string {
	return `
		SELECT ` + jobPlaceColumns + `,
			CASE WHEN c.state = 'pending' THEN 'queued'
			     WHEN c.state = 'in_round' THEN coalesce(r.state, 'in_round')
			     ELSE c.state END AS view_state,
			r.id, r.generation, r.state,
			coalesce(c.error_code, ''), coalesce(c.error_message, ''), c.created_at, c.updated_at,
			c.token_id, coalesce(k.name, ''), ` + jobKindSQL + `
		` + jobFrom(changes) + `
		LEFT JOIN rounds r ON r.id = c.round_id`
}

func scanListedJob(row pgx.CollectableRow) (JobView, error) {
	var v JobView
	var roundID, gen, tokenID *int64
	var roundState *string
	var tokenName string
	var adds, removes int
	var update, rollback bool
	err := row.Scan(&v.JobID, &v.ChangeID, &v.TenantID, &v.TenantName, &v.Repo, &v.Release, &v.ReleaseID,
		&v.State, &roundID, &gen, &roundState, &v.ErrorCode, &v.ErrorMessage, &v.CreatedAt, &v.UpdatedAt,
		&tokenID, &tokenName, &adds, &removes, &update, &rollback)
	v.Submitter = tokenRef(tokenID, tokenName)
	v.Kind = jobKind(adds, removes, update, rollback)
	if roundID != nil {
		v.Round = &Round{ID: *roundID, Generation: *gen, State: *roundState}
	}
	return v, err
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AttemptError is one failed attempt of a job, as River recorded it.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// JobAttemptErrors returns the errors River recorded for a job's attempts.
func (s *Store) JobAttemptErrors(ctx context.Context, jobID int64) ([]AttemptError, error) {
	var raw []byte
	err := s.Pool.QueryRow(ctx, `SELECT coalesce(to_jsonb(errors), '[]'::jsonb) FROM river_job WHERE id = $1`, jobID).Scan(&raw)
	if ErrorCode(translate("", err)) == CodeNotFound {
		return nil, nil // River already cleaned the finished job out
	}
	if err != nil {
		return nil, translate("job errors", err)
	}
	var out []AttemptError
	return out, json.Unmarshal(raw, &out)
}

// JobCounts counts River's jobs by kind and state, for metrics.
func (s *Store) JobCounts(ctx context.Context) (map[[2]string]int, error) {
	return s.countPairs(ctx, "count jobs", `SELECT kind, state::text, count(*) FROM river_job GROUP BY kind, state`)
}

// RoundCounts counts rounds by state and error code, for metrics.
func (s *Store) RoundCounts(ctx context.Context) (map[[2]string]int, error) {
	return s.countPairs(ctx, "count rounds", `SELECT state, coalesce(error_code, ''), count(*) FROM rounds GROUP BY 1, 2`)
}

// countPairs runs a query of (label, label, count) rows into a map.
func (s *Store) countPairs(ctx context.Context, op, sql string) (map[[2]string]int, error) {
	rows, err := s.Pool.Query(ctx, sql)
	if err != nil {
		return nil, translate(op, err)
	}
	defer rows.Close()
	out := map[[2]string]int{}
	for rows.Next() {
		var a, b string
		var n int
		if err := rows.Scan(&a, &b, &n); err != nil {
			return nil, translate(op, err)
		}
		out[[2]string{a, b}] = n
	}
	return out, translate(op, rows.Err())
}
