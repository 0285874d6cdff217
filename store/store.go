// Package store holds aptq's domain types and all of its SQL. Methods take a
// DBTX so they run on the pool or inside a transaction; database errors are
// translated here into *Error values with codes.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what queries run on: the pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store is the entry point: a connection pool and the queries on it.
type Store struct {
	Pool *pgxpool.Pool
	// EnqueueWebhooks, when set, sends the webhook deliveries of the rounds
	// this store publishes or fails (webhooks.go); nil sends none.
	EnqueueWebhooks WebhookEnqueuer
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{Pool: pool} }

// Connect opens a pool on url and checks that the database answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	// pgxpool's default (4 on a 2-core machine) starves long polls, workers
	// and uploads of one process; the URL's pool_max_conns still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	// A dead connection is replaced quickly after a Postgres restart.
	cfg.HealthCheckPeriod = 5 * time.Second
	return cfg, nil
}

// Tx is a transaction InTx runs a function in; callers outside the store
// pass it on to store methods (as a DBTX) and to a job inserter, without
// importing the driver themselves.
type Tx = pgx.Tx

// InTx runs fn in a transaction, commits when it returns nil and rolls back
// otherwise. Serialization failures and deadlocks are retried a few times.
func (s *Store) InTx(ctx context.Context, fn func(tx Tx) error) error {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		err = s.inTxOnce(ctx, fn)
		if ErrorCode(err) != CodeRetry && !isRetryable(err) {
			return err
		}
	}
	return err
}

func (s *Store) inTxOnce(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return translate("commit", err)
	}
	return nil
}

func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.SerializationFailure || pgErr.Code == pgerrcode.DeadlockDetected)
}
