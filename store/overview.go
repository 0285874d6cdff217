package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// The operator's overview: read-only queries across every tenant, for the
// web page the API serves at /ui/.

// ReleaseOverview is a release as the operator's page shows it: where its
// generations stand, who holds its lease and what it is doing.
type ReleaseOverview struct {
	ReleaseID           int64
	Tenant              string
	Repo                string
	Release             string
	Generation          int64
	PublishedGeneration int64
	// LeaseHolder and LeaseExpiresAt are set while a live (unexpired) lease exists.
	LeaseHolder    string
	LeaseExpiresAt *time.Time
	// OpenRound is the release's unfinished round, if any.
	OpenRound      *OpenRoundOverview
	PendingChanges int
}

// OpenRoundOverview is a release's unfinished round in the overview.
type OpenRoundOverview struct {
	ID         int64
	Generation int64
	State      string
}

// ReleaseOverviews lists up to limit releases of every tenant, by tenant,
// repository and release name, with their live lease and open round.
func (s *Store) ReleaseOverviews(ctx context.Context, limit int) ([]ReleaseOverview, error) {
	// An expired lease is as good as free: it is shown as no holder. At most
	// one round per release is open (rounds_release_open_idx).
	rows, err := s.Pool.Query(ctx, `
		SELECT rel.id, t.name, repo.name, rel.name, rel.generation, rel.published_generation,
			l.holder, l.expires_at, r.id, r.generation, r.state,
			(SELECT count(*) FROM changes c WHERE c.release_id = rel.id AND c.state = 'pending')
		FROM releases rel
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		LEFT JOIN release_leases l ON l.release_id = rel.id AND l.expires_at > now()
		LEFT JOIN rounds r ON r.release_id = rel.id AND r.state IN ('awaiting_signature', 'signed', 'committed')
		ORDER BY t.name, repo.name, rel.name LIMIT $1`, limit)
	if err != nil {
		return nil, translate("release overview", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReleaseOverview, error) {
		var o ReleaseOverview
		var holder, roundState *string
		var roundID, roundGen *int64
		err := row.Scan(&o.ReleaseID, &o.Tenant, &o.Repo, &o.Release, &o.Generation, &o.PublishedGeneration,
			&holder, &o.LeaseExpiresAt, &roundID, &roundGen, &roundState, &o.PendingChanges)
		if holder != nil {
			o.LeaseHolder = *holder
		}
		if roundID != nil {
			o.OpenRound = &OpenRoundOverview{ID: *roundID, Generation: *roundGen, State: *roundState}
		}
		return o, err
	})
	return out, translate("release overview", err)
}

// QueueDepth counts River's jobs of one queue in one state.
type QueueDepth struct {
	Queue string
	State string
	Count int
}

// QueueDepths counts River's jobs by queue and state (River's table lives in
// the same database), ordered by queue and state.
func (s *Store) QueueDepths(ctx context.Context) ([]QueueDepth, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT queue, state::text, count(*) FROM river_job GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, translate("queue depths", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QueueDepth])
	return out, translate("queue depths", err)
}

// RoundOverview is a round of any release in the overview.
type RoundOverview struct {
	Tenant  string
	Repo    string
	Release string
	RoundSummary
}

// RecentRounds lists the latest rounds of every release, newest first.
func (s *Store) RecentRounds(ctx context.Context, limit int) ([]RoundOverview, error) {
	return s.recentRounds(ctx, query{Name: "recent rounds", SQL: recentRoundsSQL(""), Args: []any{limit}})
}

// recentRoundsSQL lists the latest rounds, $1 of them, that where (a
// condition on r, the round, whose arguments follow the limit) admits.
func recentRoundsSQL(where string) string {
	// Changes: every change cut into a round carries a round_cut event whose
	// detail holds the round's change count; changes still linked to the
	// round find it through indexes. A round whose changes all left it (an
	// aborted round's are requeued) falls back to counting the linked ones.
	return `
		SELECT t.name, repo.name, rel.name, r.id, r.generation, r.state,
			coalesce((SELECT (e.detail->>'changes')::int FROM changes c
				JOIN job_events e ON e.change_id = c.id AND e.kind = 'round_cut'
				WHERE c.round_id = r.id AND (e.detail->>'round_id')::bigint = r.id LIMIT 1),
				(SELECT count(*) FROM changes c WHERE c.round_id = r.id)::int),
			coalesce(r.error_code, ''), coalesce(r.error_message, ''), r.created_at, r.signed_at,
			r.committed_at, r.published_at
		FROM rounds r
		JOIN releases rel ON rel.id = r.release_id
		JOIN repositories repo ON repo.id = rel.repository_id
		JOIN tenants t ON t.id = repo.tenant_id
		` + where + `
		ORDER BY r.id DESC LIMIT $1`
}

func (s *Store) recentRounds(ctx context.Context, q query) ([]RoundOverview, error) {
	rows, err := s.Pool.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, translate(q.Name, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoundOverview, error) {
		var o RoundOverview
		r := &o.RoundSummary
		err := row.Scan(&o.Tenant, &o.Repo, &o.Release, &r.ID, &r.Generation, &r.State, &r.Changes,
			&r.ErrorCode, &r.ErrorMessage, &r.CreatedAt, &r.SignedAt, &r.CommittedAt, &r.PublishedAt)
		return o, err
	})
	return out, translate(q.Name, err)
}

// Timelines returns the events of several changes in one query, each
// change's in order; a change without events has no entry.
func (s *Store) Timelines(ctx context.Context, changeIDs []int64) (map[int64][]Event, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT change_id, kind, detail, at FROM job_events WHERE change_id = ANY($1) ORDER BY change_id, id`,
		changeIDs)
	if err != nil {
		return nil, translate("timelines", err)
	}
	defer rows.Close()
	out := make(map[int64][]Event, len(changeIDs))
	for rows.Next() {
		var id int64
		var e Event
		var d []byte
		if err := rows.Scan(&id, &e.Kind, &d, &e.At); err != nil {
			return nil, translate("timelines", err)
		}
		if err := json.Unmarshal(d, &e.Detail); err != nil {
			return nil, translate("timelines", err)
		}
		out[id] = append(out[id], e)
	}
	return out, translate("timelines", rows.Err())
}
