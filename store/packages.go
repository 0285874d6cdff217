package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Package is an uploaded .deb, content-addressed and immutable.
type Package struct {
	ID           int64
	TenantID     int64
	SHA256       string
	SHA512       string
	SHA1         string
	MD5          string
	Size         int64
	Name         string
	Version      string
	Architecture string
	Source       string
	Control      string // the control stanza as uploaded
	CreatedAt    time.Time
}

const packageColumns = `id, tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture,
	source, control, created_at`

func scanPackage(row interface{ Scan(...any) error }) (Package, error) {
	var p Package
	err := row.Scan(&p.ID, &p.TenantID, &p.SHA256, &p.SHA512, &p.SHA1, &p.MD5, &p.Size, &p.Name,
		&p.Version, &p.Architecture, &p.Source, &p.Control, &p.CreatedAt)
	return p, err
}

// PackageBlobKey is where the server keeps a tenant's uploaded .deb before
// (and besides) its pool copies.
func PackageBlobKey(tenantID int64, sha256 string) string {
	return "_packages/" + strconv.FormatInt(tenantID, 10) + "/" + sha256 + ".deb"
}

// InsertPackage records an uploaded package; when the tenant already has
// that content it returns the existing row and created = false.
func (s *Store) InsertPackage(ctx context.Context, p Package) (out Package, created bool, err error) {
	out, err = scanPackage(s.Pool.QueryRow(ctx, `
		INSERT INTO packages (tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture, source, control)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant_id, sha256) DO NOTHING
		RETURNING `+packageColumns,
		p.TenantID, p.SHA256, p.SHA512, p.SHA1, p.MD5, p.Size, p.Name, p.Version, p.Architecture, p.Source, p.Control))
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Package{}, false, translate("insert package "+p.SHA256, err)
	}
	out, err = s.PackageBySHA256(ctx, p.TenantID, p.SHA256)
	return out, false, err
}

// PackageBySHA256 returns the tenant's package with that content.
func (s *Store) PackageBySHA256(ctx context.Context, tenantID int64, sha256 string) (Package, error) {
	p, err := scanPackage(s.Pool.QueryRow(ctx,
		`SELECT `+packageColumns+` FROM packages WHERE tenant_id = $1 AND sha256 = $2`, tenantID, sha256))
	return p, translate("package "+sha256, err)
}

// ClaimInRepository reserves (name, version, architecture) in the repository
// for this package's content; another content already holding it is a
// package_conflict naming both hashes. Claiming twice is a no-op.
func (s *Store) ClaimInRepository(ctx context.Context, repoID int64, p Package) error {
	var holder, holderSHA string
	var holderID int64
	var err error
	// A concurrent claim committed after this statement's snapshot is invisible
	// to its SELECT, which then finds no row: the second attempt sees it.
	for attempt := 0; attempt < 2; attempt++ {
		err = s.Pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO repository_packages (repository_id, name, version, architecture, package_id)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING
			RETURNING package_id
		)
		SELECT 'new', package_id, '' FROM ins
		UNION ALL
		SELECT 'old', rp.package_id, pk.sha256 FROM repository_packages rp JOIN packages pk ON pk.id = rp.package_id
		WHERE rp.repository_id = $1 AND rp.name = $2 AND rp.version = $3 AND rp.architecture = $4
		LIMIT 1`,
			repoID, p.Name, p.Version, p.Architecture, p.ID).Scan(&holder, &holderID, &holderSHA)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return translate("claim package "+p.Name, err)
	}
	if holder == "old" && holderID != p.ID {
		return &Error{Code: CodePackageConflict,
			Message: p.Name + " " + p.Version + " (" + p.Architecture + ") is already in the repository with other content",
			Details: map[string]any{"existing_sha256": holderSHA, "sha256": p.SHA256}}
	}
	return nil
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}
