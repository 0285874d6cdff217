package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// TestUISessions: sessions and login codes belong to live operator tokens
// only; a logout, a revoked token and a spent code hold for every caller of
// the database, and a code is spent once even when two race for it.
func TestUISessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.NewStore(t)
	_, _, err := st.CreateTenant(ctx, "sessions")
	require.NoError(t, err)
	op, _, err := st.CreateToken(ctx, store.TokenSpec{Name: "ops"})
	require.NoError(t, err)
	var tenantToken int64
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT id FROM api_tokens WHERE NOT admin`).Scan(&tenantToken))

	_, err = st.CreateUISession(ctx, tenantToken, time.Hour)
	require.ErrorIs(t, err, store.ErrUnauthorized, "a tenant's token")
	_, _, err = st.CreateLoginCode(ctx, tenantToken, time.Minute)
	require.ErrorIs(t, err, store.ErrUnauthorized, "a tenant's token")

	secret, err := st.CreateUISession(ctx, op.ID, time.Hour)
	require.NoError(t, err)
	u, err := st.UISessionOf(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, op.ID, u.TokenID)
	require.WithinDuration(t, time.Now().Add(time.Hour), u.ExpiresAt, time.Minute)
	require.NoError(t, st.ExtendUISession(ctx, secret, 2*time.Hour))
	u, err = st.UISessionOf(ctx, secret)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), u.ExpiresAt, time.Minute)
	var stored []byte
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT id_hash FROM ui_sessions`).Scan(&stored))
	require.NotContains(t, string(stored), secret, "only a hash is stored")

	require.NoError(t, st.EndUISession(ctx, secret))
	_, err = st.UISessionOf(ctx, secret)
	require.ErrorIs(t, err, store.ErrNotFound, "after a logout")
	require.NoError(t, st.ExtendUISession(ctx, secret, time.Hour))
	_, err = st.UISessionOf(ctx, secret)
	require.ErrorIs(t, err, store.ErrNotFound, "an ended session is not revived by extending it")
	_, err = st.UISessionOf(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	expired, err := st.CreateUISession(ctx, op.ID, -time.Second)
	require.NoError(t, err)
	_, err = st.UISessionOf(ctx, expired)
	require.ErrorIs(t, err, store.ErrNotFound, "expired")

	// Two redeem one code at once: exactly one gets a session.
	code, expires, err := st.CreateLoginCode(ctx, op.ID, time.Minute)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Minute), expires, 10*time.Second)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := st.RedeemLoginCode(ctx, code, time.Hour)
			errs <- err
		}()
	}
	first, second := <-errs, <-errs
	require.True(t, (first == nil) != (second == nil), "one use wins: %v, %v", first, second)
	_, err = st.RedeemLoginCode(ctx, code, time.Hour)
	require.ErrorIs(t, err, store.ErrUnauthorized, "spent")
	old, _, err := st.CreateLoginCode(ctx, op.ID, -time.Second)
	require.NoError(t, err)
	_, err = st.RedeemLoginCode(ctx, old, time.Hour)
	require.ErrorIs(t, err, store.ErrUnauthorized, "expired")

	// Revoking the token ends its sessions and codes.
	live, err := st.CreateUISession(ctx, op.ID, time.Hour)
	require.NoError(t, err)
	code, _, err = st.CreateLoginCode(ctx, op.ID, time.Minute)
	require.NoError(t, err)
	_, err = st.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, op.ID)
	require.NoError(t, err)
	_, err = st.UISessionOf(ctx, live)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.RedeemLoginCode(ctx, code, time.Hour)
	require.ErrorIs(t, err, store.ErrUnauthorized)
	_, err = st.CreateUISession(ctx, op.ID, time.Hour)
	require.ErrorIs(t, err, store.ErrUnauthorized)
}
