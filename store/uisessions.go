package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/jackc/pgx/v5"
)

// The operator page's sessions and one-time login codes. Each is a random
// secret handed to the browser once; the database keeps its hash, the
// operator token it belongs to and its expiry, so any API process can check
// it, and a logout, a revoked token or a spent code holds in all of them.

// UISession is a live session of the operator page.
type UISession struct {
	TokenID   int64
	ExpiresAt time.Time
}

// newUISecret returns a random secret for a cookie or a link, and its hash.
func newUISecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashUISecret(secret)
}

func hashUISecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// liveOperator is the condition on api_tokens k for a token that may open the page.
const liveOperator = `k.admin AND k.revoked_at IS NULL`

// CreateUISession starts a session for a live operator token and returns
// its secret; ErrUnauthorized when the token is not one (any more).
func (s *Store) CreateUISession(ctx context.Context, tokenID int64, ttl time.Duration) (string, error) {
	return createUISession(ctx, s.Pool, tokenID, ttl)
}

func createUISession(ctx context.Context, db DBTX, tokenID int64, ttl time.Duration) (string, error) {
	secret, hash := newUISecret()
	// Sessions past their expiry are of no use to anyone: each new one sweeps them.
	if _, err := db.Exec(ctx, `DELETE FROM ui_sessions WHERE expires_at < now()`); err != nil {
		return "", translate("sweep expired sessions", err)
	}
	tag, err := db.Exec(ctx, `
		INSERT INTO ui_sessions (id_hash, token_id, expires_at)
		SELECT $1, k.id, now() + $3 * interval '1 second' FROM api_tokens k WHERE k.id = $2 AND `+liveOperator,
		hash, tokenID, ttl.Seconds())
	if err != nil {
		return "", translate("create session", err)
	}
	if tag.RowsAffected() == 0 {
		return "", Errorf(CodeUnauthorized, "the operator token was revoked")
	}
	return secret, nil
}

// UISessionOf checks a session's secret: ErrNotFound when it is unknown,
// expired, ended by a logout or its token revoked.
func (s *Store) UISessionOf(ctx context.Context, secret string) (UISession, error) {
	var u UISession
	err := s.Pool.QueryRow(ctx, `
		SELECT s.token_id, s.expires_at FROM ui_sessions s JOIN api_tokens k ON k.id = s.token_id
		WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND `+liveOperator,
		hashUISecret(secret)).Scan(&u.TokenID, &u.ExpiresAt)
	return u, translate("session", err)
}

// ExtendUISession moves a live session's expiry to ttl from now.
func (s *Store) ExtendUISession(ctx context.Context, secret string, ttl time.Duration) error {
	_, err := s.Pool.Exec(ctx, `
		UPDATE ui_sessions SET expires_at = now() + $2 * interval '1 second'
		WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > now()`, hashUISecret(secret), ttl.Seconds())
	return translate("extend session", err)
}

// EndUISession ends a session (a logout); an unknown one is no error.
func (s *Store) EndUISession(ctx context.Context, secret string) error {
	_, err := s.Pool.Exec(ctx, `
		UPDATE ui_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id_hash = $1`, hashUISecret(secret))
	return translate("end session", err)
}

// CreateLoginCode makes a one-time login code for a live operator token,
// valid for ttl, and returns it with its expiry.
func (s *Store) CreateLoginCode(ctx context.Context, tokenID int64, ttl time.Duration) (string, time.Time, error) {
	code, hash := newUISecret()
	var expires time.Time
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM ui_login_codes WHERE expires_at < now()`); err != nil {
			return translate("sweep expired login codes", err)
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO ui_login_codes (code_hash, token_id, expires_at)
			SELECT $1, k.id, now() + $3 * interval '1 second' FROM api_tokens k WHERE k.id = $2 AND `+liveOperator+`
			RETURNING expires_at`, hash, tokenID, ttl.Seconds()).Scan(&expires)
		if ErrorCode(translate("", err)) == CodeNotFound {
			return Errorf(CodeUnauthorized, "the operator token was revoked")
		}
		return translate("create login code", err)
	})
	return code, expires, err
}

// RedeemLoginCode spends a login code and starts a session for its token,
// in one transaction. The code's row is deleted: of two requests with one
// code, in any processes, the second finds nothing and gets
// ErrUnauthorized, as do an unknown or expired code and a revoked token.
func (s *Store) RedeemLoginCode(ctx context.Context, code string, ttl time.Duration) (string, error) {
	var secret string
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var tokenID int64
		err := tx.QueryRow(ctx, `
			DELETE FROM ui_login_codes c USING api_tokens k
			WHERE c.code_hash = $1 AND k.id = c.token_id AND c.expires_at > now() AND `+liveOperator+`
			RETURNING c.token_id`, hashUISecret(code)).Scan(&tokenID)
		if ErrorCode(translate("", err)) == CodeNotFound {
			return Errorf(CodeUnauthorized, "this login link is invalid, expired or already used; ask for a new one")
		}
		if err != nil {
			return translate("spend login code", err)
		}
		secret, err = createUISession(ctx, tx, tokenID, ttl)
		return err
	})
	return secret, err
}
