package migrations_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store/storetest"
)

// TestUpTwice: the first run creates aptq's and River's tables, the second
// applies nothing, also when several processes migrate at once.
func TestUpTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, storetest.NewEmptyDB(t))
	require.NoError(t, err)
	defer pool.Close()
	log := slog.New(slog.DiscardHandler)

	first, err := migrations.Up(ctx, pool, log)
	require.NoError(t, err)
	require.NotEmpty(t, first.Applied)
	require.NotEmpty(t, first.RiverApplied)

	second, err := migrations.Up(ctx, pool, log)
	require.NoError(t, err)
	require.Empty(t, second.Applied)
	require.Empty(t, second.RiverApplied)

	for _, table := range []string{"river_job", "river_queue", "tenants", "releases", "rounds", "changes", "release_leases"} {
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		require.True(t, exists, table)
	}
}

// TestConcurrentUp: processes starting together (several `aptqd all`)
// serialise on the migrators' locks and all succeed.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.NewEmptyDB(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			_, err = migrations.Up(ctx, pool, slog.New(slog.DiscardHandler))
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}
