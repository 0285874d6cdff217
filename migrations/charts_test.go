package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store/storetest"
)

// TestChartsBackfill: 0025 gives the rounds that ended before it their end
// time and counts them in the hourly rollup (published ones with their
// duration), and goes down cleanly.
func TestChartsBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, storetest.NewEmptyDB(t))
	require.NoError(t, err)
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Files, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = provider.UpTo(ctx, 22)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `
		INSERT INTO tenants (name) VALUES ('t');
		INSERT INTO repositories (tenant_id, name, prefix) SELECT id, 'r', 't/r' FROM tenants;
		INSERT INTO releases (repository_id, name, components, architectures) SELECT id, 'stable', '{main}', '{amd64}' FROM repositories;
		INSERT INTO rounds (release_id, generation, state, release_date, release_bytes, files, signature_deadline,
			created_at, signed_at, published_at, error_code)
		SELECT rel.id, g, s, now(), '', '[]', now(), '2026-12-01 10:00:00+00', '2026-12-01 10:00:02+00',
			CASE WHEN s = 'published' THEN timestamptz '2026-12-01 10:00:04+00' END,
			CASE WHEN s = 'failed' THEN 'no_signature' END
		FROM releases rel, (VALUES (1, 'published'), (2, 'published'), (0, 'failed'), (3, 'awaiting_signature')) v(g, s)`)
	require.NoError(t, err)

	_, err = provider.UpTo(ctx, 25)
	require.NoError(t, err)
	var ended, open int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE finished_at IS NOT NULL),
		count(*) FILTER (WHERE finished_at IS NULL AND state = 'awaiting_signature') FROM rounds`).Scan(&ended, &open))
	require.Equal(t, [2]int{3, 1}, [2]int{ended, open})
	var rows, published, failed, withDuration int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*), sum(published), sum(failed),
		sum(round_hist[round_hist_index(interval '4 seconds')]) FROM round_hours`).
		Scan(&rows, &published, &failed, &withDuration))
	require.Equal(t, [4]int{2, 4, 2, 4}, [4]int{rows, published, failed, withDuration},
		"one hour in the all-releases row and the release's; the two published rounds took 4 s")

	_, err = provider.DownTo(ctx, 24)
	require.NoError(t, err)
	var exists bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT to_regclass('round_hours') IS NOT NULL`).Scan(&exists))
	require.False(t, exists)
}
