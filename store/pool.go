package store

import (
	"context"
)

// PoolFile is a package at its pool path (relative to the repository's prefix).
type PoolFile struct {
	Filename string
	Package  Package
}

// PoolFilePublished says whether a committed generation of a release of
// the repository names the pool file: the current membership of one (a
// package's file, or a file of a source package), or a
// removal from one (its pool file stays, for readers of the generation
// before, until garbage collection deletes it).
func (s *Store) PoolFilePublished(ctx context.Context, repoID int64, filename string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM release_packages rp JOIN releases r ON r.id = rp.release_id
			WHERE rp.filename = $2 AND r.repository_id = $1)
		OR EXISTS (SELECT 1 FROM release_packages rp JOIN releases r ON r.id = rp.release_id
			JOIN source_files sf ON sf.package_id = rp.package_id
			WHERE sf.name = substring($2 from '[^/]*$') AND r.repository_id = $1
			  AND regexp_replace(rp.filename, '[^/]*$', '') || sf.name = $2)
		OR EXISTS (SELECT 1 FROM pool_removals WHERE repository_id = $1 AND filename = $2)`,
		repoID, filename).Scan(&ok)
	return ok, translate("pool file published", err)
}

// RoundPoolFiles lists the pool files a committed round's adds need: those
// of its changes' added packages that are members after the commit (a
// package added and removed again in the round is not).
func (s *Store) RoundPoolFiles(ctx context.Context, roundID int64) ([]PoolFile, error) {
	return s.poolFiles(ctx, `
		SELECT DISTINCT ON (rp.filename) rp.filename, `+prefixed("p", packageColumns)+`
		FROM changes c CROSS JOIN jsonb_to_recordset(c.adds) AS a(package_id bigint, component text)
		JOIN release_packages rp ON rp.release_id = c.release_id AND rp.package_id = a.package_id AND rp.component = a.component
		JOIN packages p ON p.id = rp.package_id
		WHERE c.round_id = $1
		ORDER BY rp.filename`, roundID)
}

// RoundPoolFilesToPlace is RoundPoolFiles without the files that a release
// of the repository whose last committed generation reached S3 names with
// the same package: its rounds put each of them in place before their
// InRelease went up, and garbage collection deletes no file a release
// holds. A snapshot promotion of 20 000 packages shares every pool file
// with its source, and checking each in S3 again took most of its round.
func (s *Store) RoundPoolFilesToPlace(ctx context.Context, roundID int64) ([]PoolFile, error) {
	return s.poolFiles(ctx, `
		SELECT DISTINCT ON (rp.filename) rp.filename, `+prefixed("p", packageColumns)+`
		FROM changes c CROSS JOIN jsonb_to_recordset(c.adds) AS a(package_id bigint, component text)
		JOIN release_packages rp ON rp.release_id = c.release_id AND rp.package_id = a.package_id AND rp.component = a.component
		JOIN packages p ON p.id = rp.package_id
		JOIN releases r ON r.id = c.release_id
		WHERE c.round_id = $1 AND NOT EXISTS (
			SELECT 1 FROM release_packages o JOIN releases orel ON orel.id = o.release_id
			WHERE o.filename = rp.filename AND o.package_id = rp.package_id
			  AND orel.repository_id = r.repository_id AND orel.published_generation = orel.generation)
		ORDER BY rp.filename`, roundID)
}

// ReleasePoolFiles lists the pool files the release's last committed
// generation names.
func (s *Store) ReleasePoolFiles(ctx context.Context, releaseID int64) ([]PoolFile, error) {
	return s.poolFiles(ctx, `
		SELECT DISTINCT ON (rp.filename) rp.filename, `+prefixed("p", packageColumns)+`
		FROM release_packages rp JOIN packages p ON p.id = rp.package_id
		WHERE rp.release_id = $1
		ORDER BY rp.filename`, releaseID)
}

func (s *Store) poolFiles(ctx context.Context, sql string, args ...any) ([]PoolFile, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate("pool files", err)
	}
	defer rows.Close()
	var out []PoolFile
	for rows.Next() {
		var f PoolFile
		p := &f.Package
		if err := rows.Scan(&f.Filename, &p.ID, &p.TenantID, &p.SHA256, &p.SHA512, &p.SHA1, &p.MD5, &p.Size,
			&p.Name, &p.Version, &p.Architecture, &p.Source, &p.Control, &p.CreatedAt, &p.FileCount); err != nil {
			return nil, translate("pool files", err)
		}
		out = append(out, f)
	}
	return out, translate("pool files", rows.Err())
}
