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

	got, err := s.TenantByToken(ctx, token)
	require.NoError(t, err)
	require.Equal(t, tenant.ID, got.ID)
	require.Equal(t, "acme", got.Name)

	_, err = s.TenantByToken(ctx, token+"x")
	require.ErrorIs(t, err, store.ErrUnauthorized)
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
