package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one administrative action of a tenant: who (the token),
// what, on what, when.
type AuditEntry struct {
	ID      int64
	Token   *TokenRef // nil once the token row is gone
	Action  string
	Target  string
	Details map[string]any
	At      time.Time
}

// Audit records an action of the context's actor (WithActor) on db, which
// must be the transaction of the action itself, so that the log holds what
// happened and nothing that did not. Without an actor (the server's own
// work, operator tools) nothing is recorded.
func (s *Store) Audit(ctx context.Context, db DBTX, action, target string, details map[string]any) error {
	return audit(ctx, db, action, target, details)
}

func audit(ctx context.Context, db DBTX, action, target string, details map[string]any) error {
	actor, ok := ActorFrom(ctx)
	if !ok || actor.TenantID == 0 {
		return nil
	}
	if details == nil {
		details = map[string]any{}
	}
	d, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `
		INSERT INTO audit_log (tenant_id, token_id, token_name, action, target, details)
		VALUES ($1, $2, $3, $4, $5, $6)`, actor.TenantID, actor.TokenID, actor.TokenName, action, target, d)
	return translate("audit "+action, err)
}

// AuditFilter pages through a tenant's audit log, newest first.
type AuditFilter struct {
	TenantID int64
	Before   int64 // cursor: entries with a smaller id
	Limit    int
}

// AuditLog lists a tenant's audited actions newest first; the last entry's
// id is the cursor of the next page.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, token_id, token_name, action, target, details, at FROM audit_log
		WHERE tenant_id = $1 AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, f.TenantID, f.Before, f.Limit)
	if err != nil {
		return nil, translate("audit log", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var tokenID *int64
		var name string
		var details []byte
		if err := row.Scan(&e.ID, &tokenID, &name, &e.Action, &e.Target, &details, &e.At); err != nil {
			return e, err
		}
		e.Token = tokenRef(tokenID, name)
		return e, json.Unmarshal(details, &e.Details)
	})
	return out, translate("audit log", err)
}

// repositoryName is the name of a repository, for audit targets.
func repositoryName(ctx context.Context, db DBTX, repoID int64) (string, error) {
	var name string
	err := db.QueryRow(ctx, `SELECT name FROM repositories WHERE id = $1`, repoID).Scan(&name)
	return name, translate("repository", err)
}
