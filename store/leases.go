package store

import (
	"context"
	"time"
)

// Lease is a worker's right to act for a release. Token grows with every
// acquisition and fences commits: a holder whose token is no longer the
// row's cannot commit.
type Lease struct {
	ReleaseID int64
	Holder    string
	Token     int64
	// TookOver says the lease was taken from a holder whose lease expired.
	TookOver bool
}

// AcquireLease takes the release's lease when it is free or expired (by the
// database clock). ok is false when another holder has it.
func (s *Store) AcquireLease(ctx context.Context, releaseID int64, holder string, ttl time.Duration) (Lease, bool, error) {
	var token int64
	var tookOver bool
	// xmax is set on a row the upsert updated (an expired lease taken
	// over) and zero on one it inserted.
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO release_leases (release_id, holder, token, expires_at)
		VALUES ($1, $2, nextval('lease_token_seq'), now() + $3::interval)
		ON CONFLICT (release_id) DO UPDATE
			SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
			WHERE release_leases.expires_at < now()
		RETURNING token, xmax::text <> '0'`, releaseID, holder, ttl).Scan(&token, &tookOver)
	if ErrorCode(translate("", err)) == CodeNotFound {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, translate("acquire lease", err)
	}
	return Lease{ReleaseID: releaseID, Holder: holder, Token: token, TookOver: tookOver}, true, nil
}

// RenewLease extends the lease; ErrLeaseLost when it expired and someone
// else took it (or it was released).
func (s *Store) RenewLease(ctx context.Context, l Lease, ttl time.Duration) error {
	tag, err := s.Pool.Exec(ctx, `
		UPDATE release_leases SET expires_at = now() + $3::interval
		WHERE release_id = $1 AND token = $2`, l.ReleaseID, l.Token, ttl)
	if err != nil {
		return translate("renew lease", err)
	}
	if tag.RowsAffected() == 0 {
		return Errorf(CodeLeaseLost, "lease on release %d lost", l.ReleaseID)
	}
	return nil
}

// ReleaseLease gives the lease up if it is still ours.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM release_leases WHERE release_id = $1 AND token = $2`,
		l.ReleaseID, l.Token)
	return translate("release lease", err)
}

// checkFence locks the lease row and fails with ErrLeaseLost unless it is
// still ours and unexpired; the row lock holds until the transaction ends,
// so no one can take the lease between the check and the commit.
func checkFence(ctx context.Context, db DBTX, l Lease) error {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT expires_at > now() FROM release_leases
		WHERE release_id = $1 AND token = $2 FOR UPDATE`, l.ReleaseID, l.Token).Scan(&ok)
	if ErrorCode(translate("", err)) == CodeNotFound || (err == nil && !ok) {
		return Errorf(CodeLeaseLost, "lease on release %d lost", l.ReleaseID)
	}
	return translate("check lease", err)
}
