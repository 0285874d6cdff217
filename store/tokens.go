package store

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token scopes, from least to most power: read lists and shows; publish
// also uploads, changes, signs, resigns, rolls back and reconciles; admin
// also creates repositories and releases and manages keys and tokens.
const (
	ScopeRead    = "read"
	ScopePublish = "publish"
	ScopeAdmin   = "admin"
)

var scopeRank = map[string]int{ScopeRead: 1, ScopePublish: 2, ScopeAdmin: 3}

// ScopeAllows says whether a token of scope have may do what needs scope need.
func ScopeAllows(have, need string) bool {
	return scopeRank[have] != 0 && scopeRank[have] >= scopeRank[need]
}

// Token describes an API token; its secret is never stored or shown again.
type Token struct {
	ID        int64
	TenantID  *int64
	Name      string
	Admin     bool
	CreatedAt time.Time
	RevokedAt *time.Time
	Scope     string
	// Repos limits a read or publish token to these repositories; nil: all
	// of the tenant's.
	Repos []string
}

// Principal is who a request authenticated as: a tenant's token, or an
// operator's.
type Principal struct {
	Tenant    Tenant // zero for an operator
	Admin     bool
	TokenID   int64
	TokenName string
	Scope     string
	Repos     []string // nil: every repository of the tenant
}

// MayUseRepo says whether the principal's token may act on the tenant's
// repository name.
func (p Principal) MayUseRepo(name string) bool {
	return p.Repos == nil || slices.Contains(p.Repos, name)
}

// Actor is the token a request acts as, recorded by the writes it makes.
type Actor struct {
	TenantID  int64
	TokenID   int64
	TokenName string
}

type actorKey struct{}

// WithActor returns a context whose writes record actor: the audit log and
// the signer of a round read it from there, as the request's identity.
func WithActor(ctx context.Context, actor Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the context's actor; ok is false for the server's own
// work (and operator tools), which record none.
func ActorFrom(ctx context.Context) (actor Actor, ok bool) {
	actor, ok = ctx.Value(actorKey{}).(Actor)
	return actor, ok
}

// Authenticate resolves a bearer token: ErrUnauthorized when it is unknown
// or revoked.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	var p Principal
	var tenantID *int64
	var tenantName *string
	var created *time.Time
	err := s.Pool.QueryRow(ctx, `
		SELECT k.id, k.name, k.admin, k.scope, k.repos, t.id, t.name, t.created_at
		FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id
		WHERE k.token_hash = $1 AND k.revoked_at IS NULL`, hashToken(token)).
		Scan(&p.TokenID, &p.TokenName, &p.Admin, &p.Scope, &p.Repos, &tenantID, &tenantName, &created)
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

// TokenSpec is a token to create: a tenant's (TenantID set) with a scope
// and optionally repositories, or an operator's (TenantID nil).
type TokenSpec struct {
	TenantID *int64
	Name     string
	Scope    string
	Repos    []string
}

const tokenColumns = `id, tenant_id, name, admin, created_at, revoked_at, scope, repos`

// CreateToken makes a new token and returns its secret, shown once. A
// tenant's token needs a scope; its repositories must exist, and an admin
// token is never limited to some. The creation is audited.
func (s *Store) CreateToken(ctx context.Context, spec TokenSpec) (Token, string, error) {
	operator := spec.TenantID == nil
	if operator {
		spec.Scope, spec.Repos = ScopeAdmin, nil
	}
	if scopeRank[spec.Scope] == 0 {
		e := Errorf(CodeInvalid, "scope %q is not one of read, publish, admin", spec.Scope)
		e.Details = map[string]any{"field": "scope"}
		return Token{}, "", e
	}
	if spec.Repos != nil && (spec.Scope == ScopeAdmin || len(spec.Repos) == 0) {
		e := Errorf(CodeInvalid, "only a read or publish token is limited to repositories, and to at least one")
		e.Details = map[string]any{"field": "repos"}
		return Token{}, "", e
	}
	secret, hash := newToken()
	var t Token
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if spec.Repos != nil {
			if err := checkRepos(ctx, tx, *spec.TenantID, spec.Repos); err != nil {
				return err
			}
		}
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `
			INSERT INTO api_tokens (tenant_id, name, token_hash, admin, scope, repos) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+tokenColumns, spec.TenantID, spec.Name, hash, operator, spec.Scope, spec.Repos))
		if err != nil {
			return translate("create token", err)
		}
		details := map[string]any{"id": t.ID, "scope": t.Scope}
		if t.Repos != nil {
			details["repos"] = t.Repos
		}
		return audit(ctx, tx, "token.create", t.Name, details)
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// checkRepos fails with CodeInvalid unless each name is one of the tenant's
// repositories: a typo would make a token that can do nothing.
func checkRepos(ctx context.Context, db DBTX, tenantID int64, names []string) error {
	var found []string
	err := db.QueryRow(ctx, `SELECT coalesce(array_agg(name), '{}') FROM repositories
		WHERE tenant_id = $1 AND name = ANY($2)`, tenantID, names).Scan(&found)
	if err != nil {
		return translate("check token repositories", err)
	}
	for _, n := range names {
		if !slices.Contains(found, n) {
			e := Errorf(CodeInvalid, "the tenant has no repository %q", n)
			e.Details = map[string]any{"field": "repos"}
			return e
		}
	}
	return nil
}

func scanToken(row pgx.Row) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.TenantID, &t.Name, &t.Admin, &t.CreatedAt, &t.RevokedAt, &t.Scope, &t.Repos)
	return t, err
}

// EnsureAdminToken registers a given operator token (from configuration) if
// it is not registered yet, so a first start can be bootstrapped.
func (s *Store) EnsureAdminToken(ctx context.Context, secret string) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO api_tokens (tenant_id, name, token_hash, admin, scope) VALUES (NULL, 'bootstrap', $1, true, 'admin')
		ON CONFLICT (token_hash) DO NOTHING`, hashToken(secret))
	return translate("register operator token", err)
}

// Tokens lists a tenant's tokens, newest first, without secrets.
func (s *Store) Tokens(ctx context.Context, tenantID int64) ([]Token, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	if err != nil {
		return nil, translate("list tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Token, error) { return scanToken(row) })
	return out, translate("list tokens", err)
}

// RevokeToken revokes one of the tenant's tokens; another tenant's is
// ErrNotFound. The revocation is audited.
func (s *Store) RevokeToken(ctx context.Context, tenantID, tokenID int64) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `
			UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND tenant_id = $2
			RETURNING name`, tokenID, tenantID).Scan(&name)
		if ErrorCode(translate("", err)) == CodeNotFound {
			return Errorf(CodeNotFound, "token %d not found", tokenID)
		}
		if err != nil {
			return translate("revoke token", err)
		}
		return audit(ctx, tx, "token.revoke", name, map[string]any{"id": tokenID})
	})
}

// TokenRef names a token in what it did: a change it submitted, a round it
// signed, an audited action.
type TokenRef struct {
	ID   int64
	Name string
}

func tokenRef(id *int64, name string) *TokenRef {
	if id == nil {
		return nil
	}
	return &TokenRef{ID: *id, Name: name}
}
