package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

func TestTenantTokenRoundTrip(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()

	tenant, token, err := s.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, "aptq_"))

	got, err := s.Authenticate(ctx, token)
	require.NoError(t, err)
	require.Equal(t, tenant.ID, got.Tenant.ID)
	require.Equal(t, "acme", got.Tenant.Name)
	require.False(t, got.Admin)

	_, err = s.Authenticate(ctx, token+"x")
	require.ErrorIs(t, err, store.ErrUnauthorized)

	// A revoked token no longer authenticates.
	_, second, err := s.CreateToken(ctx, store.TokenSpec{TenantID: &tenant.ID, Name: "ci", Scope: store.ScopePublish})
	require.NoError(t, err)
	tokens, err := s.Tokens(ctx, tenant.ID)
	require.NoError(t, err)
	require.Len(t, tokens, 2)
	require.NoError(t, s.RevokeToken(ctx, tenant.ID, tokens[0].ID))
	_, err = s.Authenticate(ctx, second)
	require.ErrorIs(t, err, store.ErrUnauthorized)
	_, err = s.Authenticate(ctx, token)
	require.NoError(t, err, "revoking one token leaves the others")

	// Operator tokens belong to no tenant.
	require.NoError(t, s.EnsureAdminToken(ctx, "aptq_operator_secret"))
	require.NoError(t, s.EnsureAdminToken(ctx, "aptq_operator_secret"), "idempotent")
	op, err := s.Authenticate(ctx, "aptq_operator_secret")
	require.NoError(t, err)
	require.True(t, op.Admin)
}

func TestCreateTenantErrors(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()

	_, _, err := s.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	_, _, err = s.CreateTenant(ctx, "acme")
	require.ErrorIs(t, err, store.ErrConflict)
	var e *store.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "name", e.Details["field"])

	_, _, err = s.CreateTenant(ctx, "Not A Name!")
	require.Equal(t, store.CodeInvalid, store.ErrorCode(err))
}
