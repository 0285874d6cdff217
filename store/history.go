package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RemoveSigningKey unregisters a key; the last key of a repository cannot
// go (CodeLastKey), since nothing could sign the repository then. The
// removal is audited.
func (s *Store) RemoveSigningKey(ctx context.Context, repoID int64, fingerprint string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		// Lock the repository so two concurrent removals cannot both see two keys.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM repositories WHERE id = $1 FOR UPDATE`, repoID); err != nil {
			return translate("lock repository", err)
		}
		var total int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE repository_id = $1`, repoID).Scan(&total); err != nil {
			return translate("count keys", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE repository_id = $1 AND fingerprint = $2`, repoID, fingerprint)
		if err != nil {
			return translate("remove key", err)
		}
		if tag.RowsAffected() == 0 {
			return Errorf(CodeNotFound, "no key %s on the repository", fingerprint)
		}
		if total == 1 {
			return Errorf(CodeLastKey, "%s is the repository's last key; add its successor first", fingerprint)
		}
		repo, err := repositoryName(ctx, tx, repoID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, "key.remove", repo, map[string]any{"fingerprint": fingerprint})
	})
}

// GenerationSummary is one committed generation of a release.
type GenerationSummary struct {
	Generation  int64
	Date        time.Time
	RoundID     int64
	Changes     int
	Adds        int
	Removes     int
	Signers     []string
	PublishedAt *time.Time
	// Submitters are the tokens whose changes the generation published;
	// SignedBy the token whose signature was accepted (nil: not recorded).
	Submitters []TokenRef
	SignedBy   *TokenRef
	// Retention is what the release's retention removed in the generation,
	// beside its changes.
	Retention []ChangeRemove
}

// History lists a release's committed generations, newest first.
func (s *Store) History(ctx context.Context, releaseID int64, limit int) ([]GenerationSummary, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT r.generation, r.release_date, r.id, count(c.id),
			coalesce(sum(jsonb_array_length(c.adds)), 0), coalesce(sum(jsonb_array_length(c.removes)), 0),
			coalesce(r.signers, '{}'), r.published_at, r.signed_by_token_id, coalesce(sk.name, ''),
			coalesce(jsonb_agg(DISTINCT jsonb_build_object('id', k.id, 'name', k.name)) FILTER (WHERE k.id IS NOT NULL), '[]'),
			r.retention
		FROM rounds r LEFT JOIN changes c ON c.round_id = r.id
		LEFT JOIN api_tokens k ON k.id = c.token_id
		LEFT JOIN api_tokens sk ON sk.id = r.signed_by_token_id
		WHERE r.release_id = $1 AND r.state IN ('committed', 'published')
		GROUP BY r.id, sk.name ORDER BY r.generation DESC LIMIT $2`, releaseID, limit)
	if err != nil {
		return nil, translate("history", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (GenerationSummary, error) {
		var g GenerationSummary
		var signerID *int64
		var signerName string
		var submitters, retention []byte
		err := row.Scan(&g.Generation, &g.Date, &g.RoundID, &g.Changes, &g.Adds, &g.Removes, &g.Signers,
			&g.PublishedAt, &signerID, &signerName, &submitters, &retention)
		if err != nil {
			return g, err
		}
		if err := json.Unmarshal(retention, &g.Retention); err != nil {
			return g, err
		}
		g.SignedBy = tokenRef(signerID, signerName)
		return g, json.Unmarshal(submitters, &g.Submitters)
	})
	return out, translate("history", err)
}

// MembershipAt reconstructs the membership of a committed generation by
// replaying, in order, the changes of every round up to it, exactly as
// CommitRound applied them.
func (s *Store) MembershipAt(ctx context.Context, releaseID, generation int64) ([]ChangeAdd, error) {
	var exists bool
	if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rounds WHERE release_id = $1 AND generation = $2
		AND state IN ('committed', 'published'))`, releaseID, generation).Scan(&exists); err != nil {
		return nil, translate("membership", err)
	}
	if !exists {
		e := Errorf(CodeInvalid, "generation %d was never committed", generation)
		e.Details = map[string]any{"field": "generation"}
		return nil, e
	}
	changes, err := s.queryChanges(ctx, s.Pool, `SELECT `+changeColumns+` FROM changes
		WHERE round_id IN (SELECT id FROM rounds WHERE release_id = $1 AND generation <= $2
			AND state IN ('committed', 'published'))
		ORDER BY (SELECT generation FROM rounds WHERE rounds.id = changes.round_id), id`, releaseID, generation)
	if err != nil {
		return nil, err
	}
	if changes, err = s.withRetention(ctx, releaseID, generation, changes); err != nil {
		return nil, err
	}
	type key struct {
		component string
		id        int64
	}
	var order []key
	seen := map[key]bool{}
	set := map[key]ChangeAdd{}
	var ids []int64
	for _, c := range changes {
		for _, a := range c.Adds {
			k := key{a.Component, a.PackageID}
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
				ids = append(ids, a.PackageID)
			}
			set[k] = a
		}
		if len(c.Removes) == 0 {
			continue
		}
		pkgs, err := s.PackagesByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range c.Removes {
			for k := range set {
				p := pkgs[k.id]
				if k.component == r.Component && p.Name == r.Name && p.Version == r.Version && p.Architecture == r.Architecture {
					delete(set, k)
				}
			}
		}
	}
	out := make([]ChangeAdd, 0, len(set))
	for _, k := range order {
		if a, ok := set[k]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// withRetention puts, after the last change of each round, what the
// round's retention removed, as CommitRound applied it.
func (s *Store) withRetention(ctx context.Context, releaseID, generation int64, changes []Change) ([]Change, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, retention FROM rounds WHERE release_id = $1 AND generation <= $2
		AND state IN ('committed', 'published') AND retention <> '[]'`, releaseID, generation)
	if err != nil {
		return nil, translate("retention of rounds", err)
	}
	byRound := map[int64][]ChangeRemove{}
	for rows.Next() {
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return nil, translate("retention of rounds", err)
		}
		var rm []ChangeRemove
		if err := json.Unmarshal(raw, &rm); err != nil {
			rows.Close()
			return nil, fmt.Errorf("retention of round %d: %w", id, err)
		}
		byRound[id] = rm
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate("retention of rounds", err)
	}
	if len(byRound) == 0 {
		return changes, nil
	}
	out := make([]Change, 0, len(changes)+len(byRound))
	for i, c := range changes {
		out = append(out, c)
		if c.RoundID == nil || (i+1 < len(changes) && changes[i+1].RoundID != nil && *changes[i+1].RoundID == *c.RoundID) {
			continue
		}
		if rm := byRound[*c.RoundID]; rm != nil {
			out = append(out, Change{RoundID: c.RoundID, Removes: rm})
		}
	}
	return out, nil
}
