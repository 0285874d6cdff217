package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// ClaimAdds reserves, for each added package's content, its (name, version,
// architecture) in the repository, counted against the repository's package
// quota, and its pool path (the add's Filename). Either held by another
// content is a package_conflict naming the first add in the change's order
// that collides: the pool path drops the epoch, so "p 2.0-1" and
// "p 1:2.0-1" share one, and one file cannot hold both. Claiming again is a
// no-op, and so is an add that repeats another of the same change.
//
// It runs in the caller's transaction, so that a change refused or failed
// later leaves no claim behind, and does the whole set in five statements
// whatever its size: a copy of 20 000 packages costs no more round trips
// than one add. A claim committed concurrently is visible to each check:
// every statement takes a new snapshot.
func (s *Store) ClaimAdds(ctx context.Context, db DBTX, repoID int64, adds []ChangeAdd) error {
	if len(adds) == 0 {
		return nil
	}
	ids := make([]int64, len(adds))
	files := make([]string, len(adds))
	for i, a := range adds {
		ids[i], files[i] = a.PackageID, a.Filename
	}
	// Claims are inserted in key order, so that two changes claiming
	// overlapping sets lock their rows in the same order (no deadlock).
	tag, err := db.Exec(ctx, `
		INSERT INTO repository_packages (repository_id, name, version, architecture, package_id)
		SELECT $1, p.name, p.version, p.architecture, p.id
		FROM unnest($2::bigint[]) AS a(package_id) JOIN packages p ON p.id = a.package_id
		ORDER BY p.name, p.version, p.architecture
		ON CONFLICT DO NOTHING`, repoID, ids)
	if err != nil {
		return translate("claim package versions", err)
	}
	if err := versionConflict(ctx, db, repoID, ids); err != nil {
		return err
	}
	if n := tag.RowsAffected(); n > 0 {
		if _, err := db.Exec(ctx, `UPDATE repositories SET packages = packages + $2 WHERE id = $1`, repoID, n); err != nil {
			// The transaction is aborted: the limit is read outside it.
			return quotaError(ctx, s.Pool, translate("count claimed packages", err), repoID)
		}
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO repository_pool (repository_id, filename, package_id)
		SELECT $1, a.filename, a.package_id FROM unnest($2::text[], $3::bigint[]) AS a(filename, package_id)
		ORDER BY a.filename
		ON CONFLICT DO NOTHING`, repoID, files, ids); err != nil {
		return translate("claim pool paths", err)
	}
	if err := poolConflict(ctx, db, repoID, files, ids); err != nil {
		return err
	}
	return claimSourceFiles(ctx, db, repoID, adds)
}

// versionConflict is the first add whose (name, version, architecture)
// another content holds.
func versionConflict(ctx context.Context, db DBTX, repoID int64, ids []int64) error {
	var name, version, arch, sha, holderSHA string
	err := db.QueryRow(ctx, `
		SELECT p.name, p.version, p.architecture, p.sha256, h.sha256
		FROM unnest($2::bigint[]) WITH ORDINALITY AS a(package_id, ord)
		JOIN packages p ON p.id = a.package_id
		JOIN repository_packages rp ON rp.repository_id = $1 AND rp.name = p.name AND rp.version = p.version
			AND rp.architecture = p.architecture
		JOIN packages h ON h.id = rp.package_id
		WHERE h.sha256 <> p.sha256
		ORDER BY a.ord LIMIT 1`, repoID, ids).Scan(&name, &version, &arch, &sha, &holderSHA)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return translate("check claimed versions", err)
	}
	return &Error{Code: CodePackageConflict,
		Message: name + " " + version + " (" + arch + ") is already in the repository with other content",
		Details: map[string]any{"existing_sha256": holderSHA, "sha256": sha}}
}

// poolConflict is the first add whose pool path another package holds.
func poolConflict(ctx context.Context, db DBTX, repoID int64, files []string, ids []int64) error {
	var filename string
	var p, holder Package
	err := db.QueryRow(ctx, `
		SELECT a.filename, p.name, p.version, p.sha256, h.name, h.version, h.architecture, h.sha256
		FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS a(filename, package_id, ord)
		JOIN repository_pool rp ON rp.repository_id = $1 AND rp.filename = a.filename
		JOIN packages p ON p.id = a.package_id
		JOIN packages h ON h.id = rp.package_id
		WHERE rp.package_id <> a.package_id
		ORDER BY a.ord LIMIT 1`, repoID, files, ids).Scan(&filename, &p.Name, &p.Version, &p.SHA256,
		&holder.Name, &holder.Version, &holder.Architecture, &holder.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return translate("check claimed pool paths", err)
	}
	return &Error{Code: CodePackageConflict,
		Message: filename + " already holds " + holder.Name + " " + holder.Version + " (" + holder.Architecture +
			") with other content; " + p.Name + " " + p.Version + " would overwrite it",
		Details: map[string]any{"filename": filename, "existing_sha256": holder.SHA256, "existing_version": holder.Version,
			"sha256": p.SHA256}}
}
