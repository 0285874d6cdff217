package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checkIdle refuses (409) to delete releases that have changes not yet
// published or a round in progress: their clients are owed an answer.
func checkIdle(ctx context.Context, db DBTX, releaseIDs []int64, what string) error {
	var changes, rounds int64
	err := db.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM changes WHERE release_id = ANY($1) AND state IN ('pending', 'in_round')),
		       (SELECT count(*) FROM rounds WHERE release_id = ANY($1) AND state IN ('awaiting_signature', 'signed', 'committed'))`,
		releaseIDs).Scan(&changes, &rounds)
	if err != nil {
		return translate("pending work", err)
	}
	if changes == 0 && rounds == 0 {
		return nil
	}
	e := Errorf(CodeConflict, "%s has %d unpublished change(s) and %d round(s) in progress: wait for them to end "+
		"(or cancel their jobs), then delete", what, changes, rounds)
	e.Details = map[string]any{"pending_changes": changes, "open_rounds": rounds}
	return e
}

// RequestReleaseDelete marks a release as being deleted, in the caller's
// transaction (which enqueues the delete job): from then on it takes no
// change. It is refused while the release has unpublished work.
func (s *Store) RequestReleaseDelete(ctx context.Context, tx pgx.Tx, releaseID int64) (Release, error) {
	rel, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = $1 FOR UPDATE`, releaseID))
	if err != nil {
		return rel, translate("lock release", err)
	}
	if rel.DeletingAt != nil {
		return rel, ErrReleaseDeleting
	}
	if err := checkIdle(ctx, tx, []int64{rel.ID}, "release "+rel.Name); err != nil {
		return rel, err
	}
	_, err = tx.Exec(ctx, `UPDATE releases SET deleting_at = now() WHERE id = $1`, rel.ID)
	return rel, translate("mark release deleting", err)
}

// ErrRepositoryDeleting refuses a write to a repository being deleted.
var ErrRepositoryDeleting = &Error{Code: CodeDeleting, Message: "the repository is being deleted"}

// RequestRepositoryDelete marks a repository and its releases as being
// deleted, in the caller's transaction; refused while any release has
// unpublished work.
func (s *Store) RequestRepositoryDelete(ctx context.Context, tx pgx.Tx, repoID int64) error {
	var deleting bool
	err := tx.QueryRow(ctx, `SELECT deleting_at IS NOT NULL FROM repositories WHERE id = $1 FOR UPDATE`, repoID).Scan(&deleting)
	if err != nil {
		return translate("lock repository", err)
	}
	if deleting {
		return ErrRepositoryDeleting
	}
	rows, err := tx.Query(ctx, `SELECT id FROM releases WHERE repository_id = $1 ORDER BY id FOR UPDATE`, repoID)
	if err != nil {
		return translate("lock releases", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return translate("lock releases", err)
	}
	if err := checkIdle(ctx, tx, ids, "the repository"); err != nil {
		return err
	}
	return atomic(ctx, tx, []statement{
		{Name: "mark repository deleting", Rows: 1, SQL: `UPDATE repositories SET deleting_at = now() WHERE id = $1`, Args: []any{repoID}},
		stmt("mark its releases deleting", `UPDATE releases SET deleting_at = coalesce(deleting_at, now()) WHERE repository_id = $1`, repoID),
	})
}

// FinishReleaseDelete removes a deleted release's rows, once its objects
// are gone from S3: its history (rounds, changes, files, membership) goes
// with it; the audit log keeps the record. Its pool files count as removed
// now, so garbage collection keeps them for its grace, then collects those
// no other release holds.
func (s *Store) FinishReleaseDelete(ctx context.Context, releaseID int64) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		rel, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = $1 FOR UPDATE`, releaseID))
		if err != nil {
			return translate("lock release", err)
		}
		if rel.DeletingAt == nil {
			return Errorf(CodeConflict, "release %s is not being deleted", rel.Name)
		}
		repo, err := repositoryName(ctx, tx, rel.RepositoryID)
		if err != nil {
			return err
		}
		err = atomic(ctx, tx, []statement{
			stmt("keep its pool files for the grace period", `
				INSERT INTO pool_removals (repository_id, filename)
				SELECT $2::bigint, filename FROM release_packages WHERE release_id = $1
				UNION
				SELECT $2, regexp_replace(rp.filename, '[^/]*$', '') || sf.name
				FROM release_packages rp JOIN source_files sf ON sf.package_id = rp.package_id WHERE rp.release_id = $1
				ON CONFLICT (repository_id, filename) DO UPDATE SET removed_at = now()`, rel.ID, rel.RepositoryID),
			{Name: "delete release", Rows: 1, SQL: `DELETE FROM releases WHERE id = $1`, Args: []any{rel.ID}},
		})
		if err != nil {
			return fmt.Errorf("delete release %s: %w", rel.Name, err)
		}
		return audit(ctx, tx, "release.deleted", repo+"/"+rel.Name, map[string]any{"generation": rel.Generation})
	})
}

// FinishRepositoryDelete removes a deleted repository's rows (its releases
// must be gone) and gives its place back to the tenant's quota.
func (s *Store) FinishRepositoryDelete(ctx context.Context, repoID int64) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var name string
		var tenantID int64
		var deleting bool
		err := tx.QueryRow(ctx, `SELECT name, tenant_id, deleting_at IS NOT NULL FROM repositories WHERE id = $1 FOR UPDATE`,
			repoID).Scan(&name, &tenantID, &deleting)
		if err != nil {
			return translate("lock repository", err)
		}
		if !deleting {
			return Errorf(CodeConflict, "repository %s is not being deleted", name)
		}
		err = atomic(ctx, tx, []statement{
			{Name: "delete repository", Rows: 1, SQL: `DELETE FROM repositories WHERE id = $1`, Args: []any{repoID}},
			{Name: "give the quota back", Rows: 1, SQL: `UPDATE tenants SET repositories = repositories - 1 WHERE id = $1`,
				Args: []any{tenantID}},
		})
		if err != nil {
			return fmt.Errorf("delete repository %s: %w", name, err)
		}
		return audit(ctx, tx, "repo.deleted", name, nil)
	})
}

// Deleting lists the releases and the repositories whose delete was
// requested and has not finished, so that maintenance restarts an
// abandoned delete job.
func (s *Store) Deleting(ctx context.Context) (releases, repositories []int64, err error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT r.id FROM releases r JOIN repositories p ON p.id = r.repository_id
		WHERE r.deleting_at IS NOT NULL AND p.deleting_at IS NULL ORDER BY r.id`)
	if err != nil {
		return nil, nil, translate("deleting releases", err)
	}
	if releases, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, nil, translate("deleting releases", err)
	}
	rows, err = s.Pool.Query(ctx, `SELECT id FROM repositories WHERE deleting_at IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, nil, translate("deleting repositories", err)
	}
	repositories, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	return releases, repositories, translate("deleting repositories", err)
}
