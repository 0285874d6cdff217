package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"time"
)

// Repository is a tenant's APT repository: its objects live under Prefix in
// the server's bucket.
type Repository struct {
	ID        int64
	TenantID  int64
	Name      string
	Prefix    string
	CreatedAt time.Time
}

// SigningKey is a public key whose signatures the repository accepts.
type SigningKey struct {
	ID           int64
	RepositoryID int64
	Fingerprint  string
	Armored      string
	CreatedAt    time.Time
}

// CreateRepository creates a repository whose objects go under
// "<tenant>/<name>/", counted against the tenant's repository quota in the
// same transaction (CodeQuotaExceeded names the limit when it is reached),
// and audited.
func (s *Store) CreateRepository(ctx context.Context, tenant Tenant, name string) (Repository, error) {
	var r Repository
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := atomic(ctx, tx, []statement{
			stmt("insert repository", `INSERT INTO repositories (tenant_id, name, prefix) VALUES ($1, $2, $3)`,
				tenant.ID, name, tenant.Name+"/"+name+"/"),
			{Name: "count it against the tenant's quota", Rows: 1,
				SQL: `UPDATE tenants SET repositories = repositories + 1 WHERE id = $1`, Args: []any{tenant.ID}},
		})
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id, tenant_id, name, prefix, created_at FROM repositories
			WHERE tenant_id = $1 AND name = $2`, tenant.ID, name).
			Scan(&r.ID, &r.TenantID, &r.Name, &r.Prefix, &r.CreatedAt)
		if err != nil {
			return translate("read repository", err)
		}
		return audit(ctx, tx, "repo.create", name, nil)
	})
	if err != nil {
		return r, quotaError(ctx, s.Pool, fmt.Errorf("create repository %q: %w", name, err), tenant.ID)
	}
	return r, nil
}

// Repository returns the tenant's repository by name; another tenant's is
// ErrNotFound.
func (s *Store) Repository(ctx context.Context, tenantID int64, name string) (Repository, error) {
	var r Repository
	err := s.Pool.QueryRow(ctx, `
		SELECT id, tenant_id, name, prefix, created_at FROM repositories
		WHERE tenant_id = $1 AND name = $2`, tenantID, name).
		Scan(&r.ID, &r.TenantID, &r.Name, &r.Prefix, &r.CreatedAt)
	return r, translate("repository "+name, err)
}

// RepositoryByPath finds a repository by tenant name and repository name, as
// the public /apt/ URLs name them.
func (s *Store) RepositoryByPath(ctx context.Context, tenantName, name string) (Repository, error) {
	var r Repository
	err := s.Pool.QueryRow(ctx, `
		SELECT r.id, r.tenant_id, r.name, r.prefix, r.created_at
		FROM repositories r JOIN tenants t ON t.id = r.tenant_id
		WHERE t.name = $1 AND r.name = $2`, tenantName, name).
		Scan(&r.ID, &r.TenantID, &r.Name, &r.Prefix, &r.CreatedAt)
	return r, translate("repository "+tenantName+"/"+name, err)
}

// Repositories lists the tenant's repositories by name.
func (s *Store) Repositories(ctx context.Context, tenantID int64) ([]Repository, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, tenant_id, name, prefix, created_at FROM repositories
		WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, translate("list repositories", err)
	}
	defer rows.Close()
	var out []Repository
	for rows.Next() {
		var r Repository
		if err := rows.Scan(&r.ID, &r.TenantID, &r.Name, &r.Prefix, &r.CreatedAt); err != nil {
			return nil, translate("list repositories", err)
		}
		out = append(out, r)
	}
	return out, translate("list repositories", rows.Err())
}

// AddSigningKey registers a public key on a repository, audited.
func (s *Store) AddSigningKey(ctx context.Context, repoID int64, fingerprint, armored string) (SigningKey, error) {
	var k SigningKey
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO signing_keys (repository_id, fingerprint, armored) VALUES ($1, $2, $3)
			RETURNING id, repository_id, fingerprint, armored, created_at`, repoID, fingerprint, armored).
			Scan(&k.ID, &k.RepositoryID, &k.Fingerprint, &k.Armored, &k.CreatedAt)
		if err != nil {
			return translate("add signing key "+fingerprint, err)
		}
		repo, err := repositoryName(ctx, tx, repoID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, "key.add", repo, map[string]any{"fingerprint": fingerprint})
	})
	return k, err
}

// ReplaceSigningKey stores update(stored) in place of the stored copy of a
// registered key (one now carrying a revocation or a new expiry). The row
// stays locked meanwhile, so that of two concurrent updates neither works
// from a copy the other is replacing: update merges what it is given, and
// a revocation must not be lost to a race.
func (s *Store) ReplaceSigningKey(ctx context.Context, repoID int64, fingerprint string,
	update func(stored string) (string, error)) (SigningKey, error) {
	var k SigningKey
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var stored string
		err := tx.QueryRow(ctx, `SELECT armored FROM signing_keys WHERE repository_id = $1 AND fingerprint = $2 FOR UPDATE`,
			repoID, fingerprint).Scan(&stored)
		if err != nil {
			return translate("lock signing key "+fingerprint, err)
		}
		armored, err := update(stored)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			UPDATE signing_keys SET armored = $3 WHERE repository_id = $1 AND fingerprint = $2
			RETURNING id, repository_id, fingerprint, armored, created_at`, repoID, fingerprint, armored).
			Scan(&k.ID, &k.RepositoryID, &k.Fingerprint, &k.Armored, &k.CreatedAt)
		return translate("replace signing key "+fingerprint, err)
	})
	return k, err
}

// SigningKeys lists a repository's public keys, oldest first.
func (s *Store) SigningKeys(ctx context.Context, db DBTX, repoID int64) ([]SigningKey, error) {
	rows, err := db.Query(ctx, `
		SELECT id, repository_id, fingerprint, armored, created_at FROM signing_keys
		WHERE repository_id = $1 ORDER BY id`, repoID)
	if err != nil {
		return nil, translate("list signing keys", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
		if err := rows.Scan(&k.ID, &k.RepositoryID, &k.Fingerprint, &k.Armored, &k.CreatedAt); err != nil {
			return nil, translate("list signing keys", err)
		}
		out = append(out, k)
	}
	return out, translate("list signing keys", rows.Err())
}

// RepositoryByID returns a repository by id.
func (s *Store) RepositoryByID(ctx context.Context, id int64) (Repository, error) {
	var r Repository
	err := s.Pool.QueryRow(ctx, `SELECT id, tenant_id, name, prefix, created_at FROM repositories WHERE id = $1`, id).
		Scan(&r.ID, &r.TenantID, &r.Name, &r.Prefix, &r.CreatedAt)
	return r, translate("repository", err)
}
