package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CommitRound makes a signed round's generation the release's, in one
// transaction: the lease fence, the generation step, every change's
// membership edits in order, the index files, and the round's state.
// verifiedBy are the fingerprints whose signatures the caller verified
// just before, for the timeline.
func (s *Store) CommitRound(ctx context.Context, l Lease, r Round, changes []Change, verifiedBy []string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, l); err != nil {
			return err
		}
		stmts := []statement{{Name: "advance generation", Rows: 1, SQL: `
			UPDATE releases SET generation = $2, release_date = $3
			WHERE id = $1 AND generation = $2 - 1`, Args: []any{r.ReleaseID, r.Generation, r.ReleaseDate}}}
		for _, c := range changes {
			adds, _ := json.Marshal(c.Adds)
			stmts = append(stmts, stmt(fmt.Sprintf("add packages of change %d", c.ID), `
				INSERT INTO release_packages (release_id, component, package_id, filename)
				SELECT $1, a.component, a.package_id, a.filename
				FROM jsonb_to_recordset($2) AS a(package_id bigint, component text, filename text)
				ON CONFLICT DO NOTHING`, r.ReleaseID, adds),
				removeStmt(fmt.Sprintf("remove packages of change %d", c.ID), r.ReleaseID, c.Removes))
		}
		if len(r.Retention) > 0 {
			stmts = append(stmts, removeStmt("remove what retention drops", r.ReleaseID, r.Retention),
				roundEventStmt(r.ID, EventRetention, map[string]any{"round_id": r.ID, "generation": r.Generation,
					"keep_versions": r.KeepVersions, "removed": removedText(r.Retention)}))
		}
		update, err := settingsStatement(ctx, tx, r.ReleaseID, changes)
		if err != nil {
			return err
		}
		if update != nil {
			stmts = append(stmts, *update)
		}
		files, _ := json.Marshal(r.Files)
		stmts = append(stmts,
			stmt("record index files", `
			INSERT INTO release_files (release_id, generation, path, size, md5, sha256, sha512, listed_only)
			SELECT $1, $2, f.path, f.size, f.md5, f.sha256, f.sha512, coalesce(f.listed_only, false)
			FROM jsonb_to_recordset($3) AS f(path text, size bigint, md5 text, sha256 text, sha512 text, listed_only boolean)`,
				r.ReleaseID, r.Generation, files),
			statement{Name: "mark round committed", Rows: 1, SQL: `
			UPDATE rounds SET state = 'committed', committed_at = now() WHERE id = $1 AND state = 'signed'`, Args: []any{r.ID}},
			roundEventStmt(r.ID, EventCommitted, map[string]any{"round_id": r.ID, "generation": r.Generation,
				"worker": l.Holder, "verified_by": verifiedBy}),
			notifyStmt(r.ReleaseID))
		if err := atomic(ctx, tx, stmts); err != nil {
			return fmt.Errorf("commit round %d: %w", r.ID, err)
		}
		return nil
	})
}

// removedText is each package as "name version architecture component",
// for a timeline that reads as a list.
func removedText(removes []ChangeRemove) []string {
	out := make([]string, len(removes))
	for i, r := range removes {
		out[i] = r.Name + " " + r.Version + " " + r.Architecture + " " + r.Component
	}
	return out
}

// removeStmt removes packages from a release's membership; their pool
// files stay for readers of the generation before, until garbage collection.
// The packages are resolved to ids first (a materialized step), so that the
// membership is joined on its key whatever the planner's statistics say:
// on a release just filled, it joined 20 000 removes with the members by
// component alone, 400 million rows, for minutes.
func removeStmt(name string, releaseID int64, removes []ChangeRemove) statement {
	names, versions, archs, comps := make([]string, len(removes)), make([]string, len(removes)),
		make([]string, len(removes)), make([]string, len(removes))
	for i, r := range removes {
		names[i], versions[i], archs[i], comps[i] = r.Name, r.Version, r.Architecture, r.Component
	}
	return stmt(name, `
		WITH x AS MATERIALIZED (
			SELECT p.id AS package_id, x.component
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(name, version, architecture, component)
			JOIN packages p ON p.name = x.name AND p.version = x.version AND p.architecture = x.architecture
		), gone AS (
			DELETE FROM release_packages rp USING x
			WHERE rp.release_id = $1 AND rp.component = x.component AND rp.package_id = x.package_id
			RETURNING rp.filename, rp.package_id
		)
		INSERT INTO pool_removals (repository_id, filename)
		SELECT (SELECT repository_id FROM releases WHERE id = $1), filename FROM gone
		UNION
		SELECT (SELECT repository_id FROM releases WHERE id = $1), regexp_replace(g.filename, '[^/]*$', '') || sf.name
		FROM gone g JOIN source_files sf ON sf.package_id = g.package_id
		ON CONFLICT (repository_id, filename) DO UPDATE SET removed_at = now()`, releaseID, names, versions, archs, comps)
}

// PublishRound records that a committed round reached S3: the InRelease
// ETag the next upload must match, and its changes as published.
func (s *Store) PublishRound(ctx context.Context, r Round, inReleaseETag string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE releases SET inrelease_etag = $2, published_generation = $3
			WHERE id = $1 AND published_generation < $3`, r.ReleaseID, inReleaseETag, r.Generation); err != nil {
			return translate("record published generation", err)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE rounds SET state = 'published', published_at = now() WHERE id = $1 AND state = 'committed'`, r.ID)
		if err != nil {
			return translate("mark round published", err)
		}
		if tag.RowsAffected() == 1 {
			if err := roundEvent(ctx, tx, r.ID, EventPublished, map[string]any{"round_id": r.ID,
				"generation": r.Generation, "inrelease_etag": inReleaseETag}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE changes SET state = 'published', updated_at = now() WHERE round_id = $1 AND state = 'in_round'`, r.ID); err != nil {
			return translate("mark changes published", err)
		}
		if tag.RowsAffected() == 1 {
			if err := s.roundWebhooks(ctx, tx, WebhookPublished, r); err != nil {
				return err
			}
		}
		return notifyRelease(ctx, tx, r.ReleaseID)
	})
}

// Member is a package in a component of a release.
type Member struct {
	Component string
	Filename  string
	Package   Package
}

// Members lists the release's packages in the given components whose
// architecture is one of archs (pass "all" to include arch-independent ones).
func (s *Store) Members(ctx context.Context, releaseID int64, components, archs []string) ([]Member, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT rp.component, rp.filename, `+prefixed("p", packageColumns)+`
		FROM release_packages rp JOIN packages p ON p.id = rp.package_id
		WHERE rp.release_id = $1 AND rp.component = ANY($2) AND p.architecture = ANY($3)`,
		releaseID, components, archs)
	if err != nil {
		return nil, translate("list members", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		p := &m.Package
		if err := rows.Scan(&m.Component, &m.Filename, &p.ID, &p.TenantID, &p.SHA256, &p.SHA512, &p.SHA1,
			&p.MD5, &p.Size, &p.Name, &p.Version, &p.Architecture, &p.Source, &p.Control, &p.CreatedAt, &p.FileCount); err != nil {
			return nil, translate("list members", err)
		}
		out = append(out, m)
	}
	return out, translate("list members", rows.Err())
}

// PackagesByID returns the packages with these ids.
func (s *Store) PackagesByID(ctx context.Context, ids []int64) (map[int64]Package, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+packageColumns+` FROM packages WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, translate("packages by id", err)
	}
	defer rows.Close()
	out := make(map[int64]Package, len(ids))
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, translate("packages by id", err)
		}
		out[p.ID] = p
	}
	return out, translate("packages by id", rows.Err())
}

// ReleaseFiles returns the index files of a committed generation.
func (s *Store) ReleaseFiles(ctx context.Context, releaseID, generation int64) ([]IndexFile, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT path, size, md5, sha256, sha512, listed_only FROM release_files
		WHERE release_id = $1 AND generation = $2 ORDER BY path`, releaseID, generation)
	if err != nil {
		return nil, translate("release files", err)
	}
	defer rows.Close()
	var out []IndexFile
	for rows.Next() {
		var f IndexFile
		if err := rows.Scan(&f.Path, &f.Size, &f.MD5, &f.SHA256, &f.SHA512, &f.ListedOnly); err != nil {
			return nil, translate("release files", err)
		}
		out = append(out, f)
	}
	return out, translate("release files", rows.Err())
}
