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
	// FileCount is the number of files of its data.tar (nil: uploaded
	// before aptq read file lists). FileList, set only to insert one, is
	// the list as apt.EncodeFileList stores it (PackageFileLists reads it).
	FileCount *int
	FileList  []byte
}

const packageColumns = `id, tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture,
	source, control, created_at, file_count`

func scanPackage(row interface{ Scan(...any) error }) (Package, error) {
	var p Package
	err := row.Scan(&p.ID, &p.TenantID, &p.SHA256, &p.SHA512, &p.SHA1, &p.MD5, &p.Size, &p.Name,
		&p.Version, &p.Architecture, &p.Source, &p.Control, &p.CreatedAt, &p.FileCount)
	return p, err
}

// PackageBlobKey is where the server keeps a tenant's uploaded .deb before
// (and besides) its pool copies.
func PackageBlobKey(tenantID int64, sha256 string) string {
	return "_packages/" + strconv.FormatInt(tenantID, 10) + "/" + sha256 + ".deb"
}

// UploadsPrefix holds uploads in progress: the API streams a .deb there,
// checks it, copies it to its PackageBlobKey and deletes it. What stays
// there longer was left by an API process that died mid-upload.
const UploadsPrefix = "_uploads/"

// UploadKey is where an upload in progress of a tenant's .deb is streamed;
// suffix tells concurrent uploads of the same content apart.
func UploadKey(tenantID int64, sha256, suffix string) string {
	return UploadsPrefix + strconv.FormatInt(tenantID, 10) + "/" + sha256 + "-" + suffix
}

// InsertPackage records an uploaded package, counted against the tenant's
// upload quota; when the tenant already has that content it returns the
// existing row and created = false.
func (s *Store) InsertPackage(ctx context.Context, p Package) (out Package, created bool, err error) {
	return s.insertPackage(ctx, p, nil)
}

// insertPackage is InsertPackage that also records the files a source
// package lists.
func (s *Store) insertPackage(ctx context.Context, p Package, files []SourceFile) (out Package, created bool, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanPackage(tx.QueryRow(ctx, `
			INSERT INTO packages (tenant_id, sha256, sha512, sha1, md5, size, name, version, architecture, source, control,
				file_list, file_count)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (tenant_id, sha256) DO NOTHING
			RETURNING `+packageColumns,
			p.TenantID, p.SHA256, p.SHA512, p.SHA1, p.MD5, p.Size, p.Name, p.Version, p.Architecture, p.Source, p.Control,
			p.FileList, p.FileCount))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return translate("insert package "+p.SHA256, err)
		}
		created = true
		for _, f := range files {
			if _, err := tx.Exec(ctx, `INSERT INTO source_files (package_id, name, sha256, md5, size) VALUES ($1, $2, $3, $4, $5)`,
				out.ID, f.Name, f.SHA256, f.MD5, f.Size); err != nil {
				return translate("insert source file "+f.Name, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE tenants SET upload_bytes = upload_bytes + $2 WHERE id = $1`, p.TenantID, p.Size)
		return err
	})
	if err != nil {
		return Package{}, false, quotaError(ctx, s.Pool, translate("count upload", err), p.TenantID)
	}
	if !created {
		out, err = s.PackageBySHA256(ctx, p.TenantID, p.SHA256)
	}
	return out, created, err
}

// CheckUploadQuota fails with CodeQuotaExceeded when size more bytes would
// exceed the tenant's upload quota, so a too-large upload is refused before
// it is streamed (InsertPackage still enforces it atomically).
func (s *Store) CheckUploadQuota(ctx context.Context, tenantID, size int64) error {
	var used, limit int64
	if err := s.Pool.QueryRow(ctx, `SELECT upload_bytes, max_upload_bytes FROM tenants WHERE id = $1`, tenantID).
		Scan(&used, &limit); err != nil {
		return translate("upload quota", err)
	}
	if used+size > limit {
		return &Error{Code: CodeQuotaExceeded, Message: "quota exceeded: upload_bytes",
			Details: map[string]any{"limit": "upload_bytes", "value": limit}}
	}
	return nil
}

// PackageBySHA256 returns the tenant's package with that content.
func (s *Store) PackageBySHA256(ctx context.Context, tenantID int64, sha256 string) (Package, error) {
	p, err := scanPackage(s.Pool.QueryRow(ctx,
		`SELECT `+packageColumns+` FROM packages WHERE tenant_id = $1 AND sha256 = $2`, tenantID, sha256))
	return p, translate("package "+sha256, err)
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}
