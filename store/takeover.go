package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Orphans is what a worker learns from the release leases of unfinished
// work (pending changes or an open round).
type Orphans struct {
	// Expired lists the leases that expired: their holder died or stalled,
	// and no one has taken the release over yet.
	Expired []Lease
	// NextExpiry is how long until the earliest live lease of such a
	// release expires, by the database clock; 0 when none is live.
	NextExpiry time.Duration
}

// OrphanedReleases finds releases with unfinished work whose lease expired,
// and when the next live one would. A lease a holder let go is deleted, so
// an expired row is a holder that stopped renewing: unlike StalledReleases
// this needs no quiet period to tell a dead leader from a starting one.
func (s *Store) OrphanedReleases(ctx context.Context) (Orphans, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT l.release_id, l.holder, l.token, greatest(extract(epoch FROM l.expires_at - now()), 0)::float8
		FROM release_leases l
		WHERE EXISTS (SELECT 1 FROM changes c WHERE c.release_id = l.release_id AND c.state = 'pending')
		   OR EXISTS (SELECT 1 FROM rounds r WHERE r.release_id = l.release_id
		              AND r.state IN ('awaiting_signature', 'signed', 'committed'))`)
	if err != nil {
		return Orphans{}, translate("orphaned releases", err)
	}
	var o Orphans
	var l Lease
	var secs float64
	_, err = pgx.ForEachRow(rows, []any{&l.ReleaseID, &l.Holder, &l.Token, &secs}, func() error {
		if secs == 0 {
			o.Expired = append(o.Expired, l)
			return nil
		}
		if d := time.Duration(secs * float64(time.Second)); o.NextExpiry == 0 || d < o.NextExpiry {
			o.NextExpiry = d
		}
		return nil
	})
	return o, translate("orphaned releases", err)
}
