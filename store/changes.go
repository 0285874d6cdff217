package store

import (
	"context"
	"encoding/json"
	"time"
)

// Change states.
const (
	ChangePending   = "pending"
	ChangeInRound   = "in_round"
	ChangePublished = "published"
	ChangeFailed    = "failed"
	ChangeCancelled = "cancelled"
)

// ChangeAdd adds a package to a component; Filename is its pool path.
type ChangeAdd struct {
	PackageID    int64  `json:"package_id"`
	Component    string `json:"component"`
	Filename     string `json:"filename"`
	Architecture string `json:"architecture"`
}

// ChangeRemove removes (name, version, architecture) from a component.
type ChangeRemove struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

// Change is one requested index change of a release.
type Change struct {
	ID           int64
	ReleaseID    int64
	JobID        *int64
	State        string
	RoundID      *int64
	Adds         []ChangeAdd
	Removes      []ChangeRemove
	ErrorCode    string
	ErrorMessage string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// TokenID and TokenName are the token that submitted the change (nil
	// and "" for changes recorded before tokens were).
	TokenID   *int64
	TokenName string
	// Settings is what a release update changes (nil: packages only).
	Settings *ReleaseSettings
}

const changeColumns = `id, release_id, job_id, state, round_id, adds, removes,
	coalesce(error_code, ''), coalesce(error_message, ''), created_at, updated_at, token_id,
	coalesce((SELECT k.name FROM api_tokens k WHERE k.id = changes.token_id), ''), settings`

func scanChange(row interface{ Scan(...any) error }) (Change, error) {
	var c Change
	var adds, removes, settings []byte
	err := row.Scan(&c.ID, &c.ReleaseID, &c.JobID, &c.State, &c.RoundID, &adds, &removes,
		&c.ErrorCode, &c.ErrorMessage, &c.CreatedAt, &c.UpdatedAt, &c.TokenID, &c.TokenName, &settings)
	if err != nil {
		return c, err
	}
	if settings != nil {
		c.Settings = new(ReleaseSettings)
		if err := json.Unmarshal(settings, c.Settings); err != nil {
			return c, err
		}
	}
	if err := json.Unmarshal(adds, &c.Adds); err != nil {
		return c, err
	}
	return c, json.Unmarshal(removes, &c.Removes)
}

// InsertChange records a pending change submitted with tokenID (nil: by the
// server itself); run it in the transaction that enqueues its job, then
// SetChangeJob.
func (s *Store) InsertChange(ctx context.Context, db DBTX, releaseID int64, tokenID *int64, adds []ChangeAdd, removes []ChangeRemove) (Change, error) {
	if adds == nil {
		adds = []ChangeAdd{}
	}
	if removes == nil {
		removes = []ChangeRemove{}
	}
	a, _ := json.Marshal(adds)
	r, _ := json.Marshal(removes)
	// The share lock waits for a delete request being committed, and then
	// sees it: no change slips in behind it.
	var deleting bool
	err := db.QueryRow(ctx, `SELECT deleting_at IS NOT NULL FROM releases WHERE id = $1 FOR SHARE`, releaseID).Scan(&deleting)
	if err != nil {
		return Change{}, translate("lock release", err)
	}
	if deleting {
		return Change{}, ErrReleaseDeleting
	}
	c, err := scanChange(db.QueryRow(ctx, `
		INSERT INTO changes (release_id, token_id, adds, removes) VALUES ($1, $2, $3, $4)
		RETURNING `+changeColumns, releaseID, tokenID, a, r))
	if err != nil {
		return c, translate("insert change", err)
	}
	return c, changeEvent(ctx, db, c.ID, EventEnqueued, map[string]any{"adds": len(adds), "removes": len(removes)})
}

// SetChangeJob links a change to the River job that carries it.
func (s *Store) SetChangeJob(ctx context.Context, db DBTX, changeID, jobID int64) error {
	_, err := db.Exec(ctx, `UPDATE changes SET job_id = $2 WHERE id = $1`, changeID, jobID)
	return translate("set change job", err)
}

// Change returns a change by id.
func (s *Store) Change(ctx context.Context, id int64) (Change, error) {
	c, err := scanChange(s.Pool.QueryRow(ctx, `SELECT `+changeColumns+` FROM changes WHERE id = $1`, id))
	return c, translate("change", err)
}

// PendingChanges lists the release's changes not yet in a round, oldest first.
func (s *Store) PendingChanges(ctx context.Context, db DBTX, releaseID int64) ([]Change, error) {
	return s.queryChanges(ctx, db, `SELECT `+changeColumns+` FROM changes
		WHERE release_id = $1 AND state = 'pending' ORDER BY id`, releaseID)
}

// RoundChanges lists the changes a round carries, in the order they apply.
func (s *Store) RoundChanges(ctx context.Context, db DBTX, roundID int64) ([]Change, error) {
	return s.queryChanges(ctx, db, `SELECT `+changeColumns+` FROM changes
		WHERE round_id = $1 ORDER BY id`, roundID)
}

func (s *Store) queryChanges(ctx context.Context, db DBTX, sql string, args ...any) ([]Change, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate("list changes", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, translate("list changes", err)
		}
		out = append(out, c)
	}
	return out, translate("list changes", rows.Err())
}

// notifyRelease wakes everyone waiting on the release (workers waiting for a
// signature, clients long-polling a job) when the transaction commits.
func notifyRelease(ctx context.Context, db DBTX, releaseID int64) error {
	st := notifyStmt(releaseID)
	_, err := db.Exec(ctx, st.SQL, st.Args...)
	return translate(st.Name, err)
}

// notifyStmt is notifyRelease as a statement of an atomic write: the one
// way the store sends the release's notification.
func notifyStmt(releaseID int64) statement {
	return stmt("notify", `SELECT pg_notify('`+releaseChannel+`', $1::bigint::text)`, releaseID)
}
