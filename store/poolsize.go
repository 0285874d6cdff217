package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// ConnectReserved opens a pool of size connections and keeps all of them
// open (its minimum is its maximum): a server process gets every connection
// it may need when it starts, or does not start, instead of finding out
// under load that Postgres has none left. It fails when Postgres refuses
// one (IsTooManyConnections tells that case apart).
func ConnectReserved(ctx context.Context, url string, size int) (*pgxpool.Pool, error) {
	if size < 1 {
		return nil, fmt.Errorf("pool size must be at least 1, not %d", size)
	}
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.MinConns = int32(size), int32(size)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conns := make([]*pgxpool.Conn, size)
	var g errgroup.Group
	for i := range conns {
		g.Go(func() error {
			c, err := pool.Acquire(ctx)
			conns[i] = c
			return err
		})
	}
	err = g.Wait()
	opened := 0
	for _, c := range conns {
		if c != nil {
			opened++
			c.Release()
		}
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open the pool's %d database connections: %d opened, then: %w", size, opened, err)
	}
	return pool, nil
}

// IsTooManyConnections reports whether Postgres refused a connection for
// lack of slots (max_connections, or a role's or database's CONNECTION LIMIT).
func IsTooManyConnections(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.TooManyConnections
}
