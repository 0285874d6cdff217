// Package migrations holds aptq's schema as numbered SQL files and applies
// them, together with River's own tables, to a database.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Files are the SQL migrations, embedded.
//
//go:embed *.sql
var Files embed.FS

// Result says what Up applied; both lists are empty when the schema was current.
type Result struct {
	Applied      []string
	RiverApplied []int
}

// lockKey is the advisory lock that serialises migrating processes.
const lockKey = 0x61707471 // "aptq"

// Up applies River's migrations and then aptq's pending SQL files. It is safe
// to run from several processes at once (several `aptqd all` starting
// together): they take turns on an advisory lock, since River's migrator
// does not serialise itself.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (res Result, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return res, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		if _, unlockErr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey); unlockErr != nil && err == nil {
			err = fmt.Errorf("migrate: release lock: %w", unlockErr)
		}
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	riverRes, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range riverRes.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, Files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return res, fmt.Errorf("goose provider: %w", err)
	}
	applied, err := provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("aptq migrations: %w", err)
	}
	for _, r := range applied {
		res.Applied = append(res.Applied, r.Source.Path)
	}
	return res, nil
}
