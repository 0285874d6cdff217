package store

import (
	"context"
	"time"
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
}

// Job states as clients see them.
const (
	JobQueued = "queued"
)

// JobView returns the tenant's job; another tenant's is ErrNotFound.
func (s *Store) JobView(ctx context.Context, tenantID, jobID int64) (JobView, error) {
	var v JobView
	var roundID *int64
	var changeState string
	err := s.Pool.QueryRow(ctx, `
		SELECT c.job_id, c.id, t.id, t.name, repo.name, rel.name, rel.id, c.state, c.round_id,
			coalesce(c.error_code, ''), coalesce(c.error_message, ''), c.created_at, c.updated_at
		FROM changes c
		JOIN releases rel ON rel.id = c.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		WHERE c.job_id = $1 AND t.id = $2`, jobID, tenantID).
		Scan(&v.JobID, &v.ChangeID, &v.TenantID, &v.TenantName, &v.Repo, &v.Release, &v.ReleaseID,
			&changeState, &roundID, &v.ErrorCode, &v.ErrorMessage, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return v, translate("job", err)
	}
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

// RoundTenant returns the tenant owning a round's release, for access checks.
func (s *Store) RoundTenant(ctx context.Context, roundID int64) (tenantID, repositoryID int64, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT repo.tenant_id, repo.id FROM rounds r
		JOIN releases rel ON rel.id = r.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		WHERE r.id = $1`, roundID).Scan(&tenantID, &repositoryID)
	return tenantID, repositoryID, translate("round", err)
}
