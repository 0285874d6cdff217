package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tenant is an account; API tokens belong to it and it sees only its own data.
type Tenant struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// tokenPrefix marks aptq tokens so that secret scanners can find leaked ones.
const tokenPrefix = "aptq_"

// newToken returns a random token and the hash stored for it.
func newToken() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	token := tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateTenant creates a tenant and its first API token, an admin token
// (it makes the others), returned in clear once; only its hash is stored.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, string, error) {
	var t Tenant
	token, hash := newToken()
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO tenants (name) VALUES ($1) RETURNING id, name, created_at`, name).
			Scan(&t.ID, &t.Name, &t.CreatedAt)
		if err != nil {
			return translate("create tenant "+name, err)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO api_tokens (tenant_id, name, token_hash, scope) VALUES ($1, 'initial', $2, 'admin')`, t.ID, hash)
		return translate("create token", err)
	})
	if err != nil {
		return Tenant{}, "", err
	}
	return t, token, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.Pool.Ping(ctx)
}

// TenantSummary is a tenant as an operator lists it: what it holds.
type TenantSummary struct {
	Tenant
	Repositories int
	Tokens       int // not revoked
}

// Tenants lists every tenant, oldest first, with its counts of
// repositories and live tokens.
func (s *Store) Tenants(ctx context.Context) ([]TenantSummary, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT t.id, t.name, t.created_at,
			(SELECT count(*) FROM repositories r WHERE r.tenant_id = t.id),
			(SELECT count(*) FROM api_tokens k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL)
		FROM tenants t ORDER BY t.id`)
	if err != nil {
		return nil, translate("list tenants", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TenantSummary, error) {
		var t TenantSummary
		err := row.Scan(&t.ID, &t.Name, &t.CreatedAt, &t.Repositories, &t.Tokens)
		return t, err
	})
	return out, translate("list tenants", err)
}
