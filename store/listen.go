package store

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const releaseChannel = "aptq_release"

// Listener fans out Postgres notifications about releases to in-process
// waiters, over one LISTEN connection per process.
type Listener struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	mu      sync.Mutex
	waiters map[int64]chan struct{}
}

// NewListener returns a Listener; Run must be running for waiters to wake.
func NewListener(pool *pgxpool.Pool, logger *slog.Logger) *Listener {
	return &Listener{pool: pool, logger: logger, waiters: map[int64]chan struct{}{}}
}

// Wait returns a channel closed at the next change to the release. Take it
// BEFORE reading the state it guards, so that no change is missed.
func (l *Listener) Wait(releaseID int64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiters[releaseID]
	if !ok {
		ch = make(chan struct{})
		l.waiters[releaseID] = ch
	}
	return ch
}

func (l *Listener) wake(releaseID int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.waiters[releaseID]; ok {
		close(ch)
		delete(l.waiters, releaseID)
	}
}

// wakeAll wakes every waiter: after a reconnect notifications may have been missed.
func (l *Listener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, ch := range l.waiters {
		close(ch)
		delete(l.waiters, id)
	}
}

// Run listens until ctx ends, reconnecting after errors (a Postgres restart).
func (l *Listener) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		l.logger.Warn("release listener reconnecting", slog.Any("error", err))
		l.wakeAll()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (l *Listener) listen(ctx context.Context) error {
	pooled, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection keeps LISTEN state: it never goes back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+releaseChannel); err != nil {
		return err
	}
	l.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		l.wake(id)
	}
}
