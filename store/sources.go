package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// archSource is apt.ArchSource, the architecture of a source package's row.
const archSource = "source"

// UploadedFile is a file uploaded for source packages, content-addressed
// per tenant; its blob is at PackageBlobKey(TenantID, SHA256).
type UploadedFile struct {
	TenantID                  int64
	SHA256, SHA512, SHA1, MD5 string
	Size                      int64
}

// SourceFile is one file a source package lists besides its .dsc.
type SourceFile struct {
	Name, SHA256, MD5 string
	Size              int64
}

// InsertUploadedFile records an uploaded file, counted against the
// tenant's upload quota; created is false when the tenant had it already.
func (s *Store) InsertUploadedFile(ctx context.Context, f UploadedFile) (created bool, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO uploaded_files (tenant_id, sha256, sha512, sha1, md5, size) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`, f.TenantID, f.SHA256, f.SHA512, f.SHA1, f.MD5, f.Size)
		if err != nil {
			return translate("insert uploaded file "+f.SHA256, err)
		}
		if created = tag.RowsAffected() == 1; !created {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE tenants SET upload_bytes = upload_bytes + $2 WHERE id = $1`, f.TenantID, f.Size)
		return err
	})
	if err != nil {
		return false, quotaError(ctx, s.Pool, translate("count upload", err), f.TenantID)
	}
	return created, nil
}

// UploadedFileBySHA256 returns the tenant's uploaded file with that content.
func (s *Store) UploadedFileBySHA256(ctx context.Context, tenantID int64, sha256 string) (UploadedFile, error) {
	f := UploadedFile{TenantID: tenantID}
	err := s.Pool.QueryRow(ctx, `SELECT sha256, sha512, sha1, md5, size FROM uploaded_files
		WHERE tenant_id = $1 AND sha256 = $2`, tenantID, sha256).Scan(&f.SHA256, &f.SHA512, &f.SHA1, &f.MD5, &f.Size)
	return f, translate("uploaded file "+sha256, err)
}

// InsertSource records a source package (p, of architecture "source", is
// its .dsc) and the files it lists, in one transaction; when the tenant
// has that .dsc already it returns the existing row and created = false.
func (s *Store) InsertSource(ctx context.Context, p Package, files []SourceFile) (out Package, created bool, err error) {
	return s.insertPackage(ctx, p, files)
}

// claimSourceFiles claims the pool path of every file of the added sources
// for its content (see ClaimAdds); a path another content holds is a
// package_conflict naming it. A change without sources costs no statement.
func claimSourceFiles(ctx context.Context, db DBTX, repoID int64, adds []ChangeAdd) error {
	var files []string
	var ids []int64
	for _, a := range adds {
		if a.Architecture == archSource {
			files, ids = append(files, a.Filename), append(ids, a.PackageID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO repository_pool_files (repository_id, filename, sha256)
		SELECT DISTINCT $1::bigint, regexp_replace(a.filename, '[^/]*$', '') || sf.name, sf.sha256
		FROM unnest($2::text[], $3::bigint[]) AS a(filename, package_id) JOIN source_files sf ON sf.package_id = a.package_id
		ORDER BY 2
		ON CONFLICT DO NOTHING`, repoID, files, ids); err != nil {
		return translate("claim source pool paths", err)
	}
	var filename, sha, holder string
	err := db.QueryRow(ctx, `
		SELECT c.filename, sf.sha256, c.sha256
		FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS a(filename, package_id, ord)
		JOIN source_files sf ON sf.package_id = a.package_id
		JOIN repository_pool_files c ON c.repository_id = $1 AND c.filename = regexp_replace(a.filename, '[^/]*$', '') || sf.name
		WHERE c.sha256 <> sf.sha256
		ORDER BY a.ord, sf.name LIMIT 1`, repoID, files, ids).Scan(&filename, &sha, &holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return translate("check claimed source pool paths", err)
	}
	return &Error{Code: CodePackageConflict,
		Message: filename + " is already in the repository with other content",
		Details: map[string]any{"filename": filename, "existing_sha256": holder, "sha256": sha}}
}

// RoundSourceFiles lists the pool files a committed round's added sources
// need besides their .dsc (see RoundPoolFiles), each as the package whose
// bytes go there: the uploaded file's tenant, SHA-256, MD5 and size.
func (s *Store) RoundSourceFiles(ctx context.Context, roundID int64) ([]PoolFile, error) {
	return s.sourceFiles(ctx, `
		SELECT DISTINCT ON (1) regexp_replace(rp.filename, '[^/]*$', '') || sf.name, p.tenant_id, sf.sha256, sf.md5, sf.size
		FROM changes c CROSS JOIN jsonb_to_recordset(c.adds) AS a(package_id bigint, component text)
		JOIN release_packages rp ON rp.release_id = c.release_id AND rp.package_id = a.package_id AND rp.component = a.component
		JOIN packages p ON p.id = rp.package_id
		JOIN source_files sf ON sf.package_id = p.id
		WHERE c.round_id = $1
		ORDER BY 1`, roundID)
}

// ReleaseSourceFiles lists the pool files of the sources the release's
// last committed generation holds, besides their .dsc (ReleasePoolFiles).
func (s *Store) ReleaseSourceFiles(ctx context.Context, releaseID int64) ([]PoolFile, error) {
	return s.sourceFiles(ctx, `
		SELECT DISTINCT ON (1) regexp_replace(rp.filename, '[^/]*$', '') || sf.name, p.tenant_id, sf.sha256, sf.md5, sf.size
		FROM release_packages rp JOIN packages p ON p.id = rp.package_id
		JOIN source_files sf ON sf.package_id = p.id
		WHERE rp.release_id = $1
		ORDER BY 1`, releaseID)
}

func (s *Store) sourceFiles(ctx context.Context, sql string, args ...any) ([]PoolFile, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate("source pool files", err)
	}
	defer rows.Close()
	var out []PoolFile
	for rows.Next() {
		var f PoolFile
		if err := rows.Scan(&f.Filename, &f.Package.TenantID, &f.Package.SHA256, &f.Package.MD5, &f.Package.Size); err != nil {
			return nil, translate("source pool files", err)
		}
		out = append(out, f)
	}
	return out, translate("source pool files", rows.Err())
}
