package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PendingAge is a release whose oldest change waiting for a round (state
// pending) has waited Age, by the database clock.
type PendingAge struct {
	Tenant, Repo, Release string
	Age                   time.Duration
}

// PendingAges lists, oldest first, at most limit releases whose oldest
// pending change has waited at least floor, and the longest wait of any
// pending change (0 when none is pending), for metrics. It reads the
// partial index of pending changes only.
func (s *Store) PendingAges(ctx context.Context, floor time.Duration, limit int) ([]PendingAge, time.Duration, error) {
	var oldest float64
	if err := s.Pool.QueryRow(ctx, `
		SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM changes WHERE state = 'pending'`).
		Scan(&oldest); err != nil {
		return nil, 0, translate("oldest pending change", err)
	}
	rows, err := s.Pool.Query(ctx, `
		WITH p AS (
			SELECT release_id, min(created_at) AS since FROM changes WHERE state = 'pending'
			GROUP BY release_id HAVING min(created_at) <= now() - $1 * interval '1 microsecond'
			ORDER BY since LIMIT $2)
		SELECT t.name, rp.name, rl.name, extract(epoch FROM now() - p.since)::float8
		FROM p JOIN releases rl ON rl.id = p.release_id JOIN repositories rp ON rp.id = rl.repository_id
		JOIN tenants t ON t.id = rp.tenant_id ORDER BY p.since`, floor.Microseconds(), limit)
	if err != nil {
		return nil, 0, translate("pending ages", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PendingAge, error) {
		var p PendingAge
		var secs float64
		err := row.Scan(&p.Tenant, &p.Repo, &p.Release, &secs)
		p.Age = time.Duration(secs * float64(time.Second))
		return p, err
	})
	return out, time.Duration(oldest * float64(time.Second)), translate("pending ages", err)
}
