package migrations_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store/storetest"
)

// TestTokensBeforeScopesBecomeAdmin: tokens made before scopes had every
// power, so 0011 makes them admin (operator tokens too); a token inserted
// afterwards must state its scope, and 0011 goes down cleanly.
func TestTokensBeforeScopesBecomeAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, storetest.NewEmptyDB(t))
	require.NoError(t, err)
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Files, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = provider.UpTo(ctx, 10)
	require.NoError(t, err)

	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO tenants (name) VALUES ('old')`)
	exec(`INSERT INTO api_tokens (tenant_id, name, token_hash) SELECT id, 'ci', '\x01' FROM tenants`)
	exec(`INSERT INTO api_tokens (tenant_id, name, token_hash, admin) VALUES (NULL, 'ops', '\x02', true)`)

	_, err = provider.UpTo(ctx, 11)
	require.NoError(t, err)
	rows, err := db.QueryContext(ctx, `SELECT name, scope, repos IS NULL FROM api_tokens ORDER BY id`)
	require.NoError(t, err)
	type token struct {
		name, scope string
		allRepos    bool
	}
	var got []token
	for rows.Next() {
		var tok token
		require.NoError(t, rows.Scan(&tok.name, &tok.scope, &tok.allRepos))
		got = append(got, tok)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []token{{"ci", "admin", true}, {"ops", "admin", true}}, got)

	_, err = db.ExecContext(ctx, `INSERT INTO api_tokens (tenant_id, name, token_hash) SELECT id, 'new', '\x03' FROM tenants`)
	require.Error(t, err, "a new token states its scope")
	_, err = db.ExecContext(ctx, `INSERT INTO api_tokens (tenant_id, name, token_hash, scope, repos)
		SELECT id, 'new', '\x03', 'admin', '{acme}' FROM tenants`)
	require.Error(t, err, "an admin token is never limited to repositories")

	_, err = provider.DownTo(ctx, 10)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n))
	require.Equal(t, 2, n)
	var exists sql.NullString
	require.NoError(t, db.QueryRowContext(ctx, `SELECT to_regclass('audit_log')::text`).Scan(&exists))
	require.False(t, exists.Valid)
}
