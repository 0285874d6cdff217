package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Release is a distribution of a repository (dists/<Name>) and the state of
// its last committed generation.
type Release struct {
	ID            int64
	RepositoryID  int64
	Name          string
	Origin        string
	Label         string
	Suite         string
	Codename      string
	Version       string
	Description   string
	Components    []string
	Architectures []string
	Compressions  []string
	ValidFor      *time.Duration
	// NotAutomatic and ButAutomaticUpgrades are the Release options of a
	// backports-style suite; SignedBy the fingerprints of its Signed-By.
	NotAutomatic         bool
	ButAutomaticUpgrades bool
	SignedBy             string
	// DeletingAt is set once a delete was requested.
	DeletingAt          *time.Time
	Generation          int64
	ReleaseDate         *time.Time
	InReleaseETag       *string
	PublishedGeneration int64
	CreatedAt           time.Time
	// KeepVersions is the retention: each round keeps at most this many
	// versions of a (package name, architecture) in a component; 0 keeps all.
	KeepVersions int
	// Contents says whether the release publishes Contents-<arch>.gz
	// indexes of its components.
	Contents bool
}

const releaseColumns = `id, repository_id, name, origin, label, suite, codename, version, description,
	components, architectures, compressions, valid_for, generation, release_date, inrelease_etag,
	published_generation, created_at, keep_versions, not_automatic, but_automatic_upgrades, signed_by, deleting_at, contents`

func scanRelease(row interface{ Scan(...any) error }) (Release, error) {
	var r Release
	err := row.Scan(&r.ID, &r.RepositoryID, &r.Name, &r.Origin, &r.Label, &r.Suite, &r.Codename,
		&r.Version, &r.Description, &r.Components, &r.Architectures, &r.Compressions, &r.ValidFor,
		&r.Generation, &r.ReleaseDate, &r.InReleaseETag, &r.PublishedGeneration, &r.CreatedAt, &r.KeepVersions,
		&r.NotAutomatic, &r.ButAutomaticUpgrades, &r.SignedBy, &r.DeletingAt, &r.Contents)
	return r, err
}

// CreateRelease creates a release with no packages (generation 0), audited.
func (s *Store) CreateRelease(ctx context.Context, r Release) (Release, error) {
	var out Release
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		// The share lock waits for a delete request being committed.
		var deleting bool
		err := tx.QueryRow(ctx, `SELECT deleting_at IS NOT NULL FROM repositories WHERE id = $1 FOR SHARE`, r.RepositoryID).Scan(&deleting)
		if err != nil {
			return translate("lock repository", err)
		}
		if deleting {
			return ErrRepositoryDeleting
		}
		if out, err = createRelease(ctx, tx, r); err != nil {
			return err
		}
		repo, err := repositoryName(ctx, tx, r.RepositoryID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, "release.create", repo+"/"+r.Name, nil)
	})
	return out, err
}

func createRelease(ctx context.Context, db DBTX, r Release) (Release, error) {
	row := db.QueryRow(ctx, `
		INSERT INTO releases (repository_id, name, origin, label, suite, codename, version, description,
			components, architectures, compressions, valid_for, keep_versions, not_automatic, but_automatic_upgrades, signed_by, contents)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		RETURNING `+releaseColumns,
		r.RepositoryID, r.Name, r.Origin, r.Label, r.Suite, r.Codename, r.Version, r.Description,
		r.Components, r.Architectures, r.Compressions, r.ValidFor, r.KeepVersions, r.NotAutomatic, r.ButAutomaticUpgrades, r.SignedBy, r.Contents)
	out, err := scanRelease(row)
	return out, translate("create release "+r.Name, err)
}

// Release returns a repository's release by name.
func (s *Store) Release(ctx context.Context, repoID int64, name string) (Release, error) {
	r, err := scanRelease(s.Pool.QueryRow(ctx,
		`SELECT `+releaseColumns+` FROM releases WHERE repository_id = $1 AND name = $2`, repoID, name))
	return r, translate("release "+name, err)
}

// ReleaseByID returns a release by id.
func (s *Store) ReleaseByID(ctx context.Context, db DBTX, id int64) (Release, error) {
	r, err := scanRelease(db.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = $1`, id))
	return r, translate("release", err)
}

// Releases lists a repository's releases by name.
func (s *Store) Releases(ctx context.Context, repoID int64) ([]Release, error) {
	rows, err := s.Pool.Query(ctx,
		`SELECT `+releaseColumns+` FROM releases WHERE repository_id = $1 ORDER BY name`, repoID)
	if err != nil {
		return nil, translate("list releases", err)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, translate("list releases", err)
		}
		out = append(out, r)
	}
	return out, translate("list releases", rows.Err())
}
