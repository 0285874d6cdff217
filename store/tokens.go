package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token describes an API token; its secret is never stored or shown again.
type Token struct {
	ID        int64
	TenantID  *int64
	Name      string
	Admin     bool
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Principal is who a request authenticated as: a tenant, or an operator.
type Principal struct {
	Tenant  Tenant // zero for an operator
	Admin   bool
	TokenID int64
}

// Authenticate resolves a bearer token: ErrUnauthorized when it is unknown
// or revoked.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	var p Principal
	var tenantID *int64
	var tenantName *string
	var created *time.Time
	err := s.Pool.QueryRow(ctx, `
		SELECT k.id, k.admin, t.id, t.name, t.created_at
		FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id
		WHERE k.token_hash = $1 AND k.revoked_at IS NULL`, hashToken(token)).
		Scan(&p.TokenID, &p.Admin, &tenantID, &tenantName, &created)
	if err != nil {
		if ErrorCode(translate("", err)) == CodeNotFound {
			return p, Errorf(CodeUnauthorized, "invalid or revoked token")
		}
		return p, translate("authenticate token", err)
	}
	if tenantID != nil {
		p.Tenant = Tenant{ID: *tenantID, Name: *tenantName, CreatedAt: *created}
	}
	return p, nil
}

// CreateToken makes a new token for a tenant (or, with tenantID nil, an
// operator token) and returns its secret, shown once.
func (s *Store) CreateToken(ctx context.Context, tenantID *int64, name string) (Token, string, error) {
	secret, hash := newToken()
	var t Token
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO api_tokens (tenant_id, name, token_hash, admin) VALUES ($1, $2, $3, $4)
		RETURNING id, tenant_id, name, admin, created_at, revoked_at`, tenantID, name, hash, tenantID == nil).
		Scan(&t.ID, &t.TenantID, &t.Name, &t.Admin, &t.CreatedAt, &t.RevokedAt)
	return t, secret, translate("create token", err)
}

// EnsureAdminToken registers a given operator token (from configuration) if
// it is not registered yet, so a first start can be bootstrapped.
func (s *Store) EnsureAdminToken(ctx context.Context, secret string) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO api_tokens (tenant_id, name, token_hash, admin) VALUES (NULL, 'bootstrap', $1, true)
		ON CONFLICT (token_hash) DO NOTHING`, hashToken(secret))
	return translate("register operator token", err)
}

// Tokens lists a tenant's tokens, newest first, without secrets.
func (s *Store) Tokens(ctx context.Context, tenantID int64) ([]Token, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, tenant_id, name, admin, created_at, revoked_at FROM api_tokens
		WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	if err != nil {
		return nil, translate("list tokens", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	return out, translate("list tokens", err)
}

// RevokeToken revokes one of the tenant's tokens; another tenant's is ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, tenantID, tokenID int64) error {
	tag, err := s.Pool.Exec(ctx, `
		UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND tenant_id = $2`,
		tokenID, tenantID)
	if err != nil {
		return translate("revoke token", err)
	}
	if tag.RowsAffected() == 0 {
		return Errorf(CodeNotFound, "token %d not found", tokenID)
	}
	return nil
}
