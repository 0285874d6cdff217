package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPoolBudget runs aptqd against a Postgres with room for 20
// connections: an API (pool 6) and a worker (pool 8) start and hold exactly
// their budget (pool + 1 listener for the API, pool + 2 for a worker: its
// listener and River's), and a second worker, which would not fit, refuses
// to start with a message that says what to change, while the others go on
// serving.
func TestPoolBudget(t *testing.T) {
	t.Parallel()
	events := &eventLog{start: time.Now()}
	c := newCluster(t, clusterOpts{workers: 0, leaseTTL: leaseTTL, signatureTimeout: 30 * time.Second,
		roundBudget: 20 * time.Second, partitions: 2, pgMaxConns: 20, env: []string{"APTQ_DB_POOL_SIZE=6"}}, events)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	env := append(append([]string{}, c.env...), "APTQ_DB_POOL_SIZE=8")
	w := &proc{name: "worker-1", args: []string{filepath.Join(binDir, "aptqd"), "worker"}, env: env,
		logPath: filepath.Join(c.dir, "worker-1.log"), events: events}
	require.NoError(t, w.start())
	c.workers = append(c.workers, w)
	c.waitProcReady(w, time.Minute)
	const budget = (6 + 1) + (8 + 2)
	require.NoError(t, c.waitConnections(ctx, budget), "the API and the worker hold their budget, no more")

	start := time.Now()
	out, err := c.aptqdEnv(env, "worker")
	require.Error(t, err, "a worker that does not fit must not start")
	require.Less(t, time.Since(start), 45*time.Second, "it fails at once, not after retrying")
	require.Contains(t, out, "too many clients")
	require.Contains(t, out, "Postgres has no room for this process")
	require.Contains(t, out, "APTQ_DB_POOL_SIZE (8) + 2 connections")

	// The processes that started are not degraded by the one refused.
	c.mustCLI("repo", "create", "after-refusal")
	require.True(t, w.running(), "the worker still runs")
	n, err := c.connections(ctx)
	require.NoError(t, err)
	require.Equal(t, budget, n)
}

// connections counts the client connections to the test database, but the
// one counting.
func (c *cluster) connections(ctx context.Context) (n int, err error) {
	err = c.pg.query(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
	})
	return n, err
}

// waitConnections waits until the aptqd processes hold want connections (a
// pool refills a connection its listener took over within seconds), and
// fails if they ever hold more.
func (c *cluster) waitConnections(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		n, err := c.connections(ctx)
		switch {
		case err != nil:
			return err
		case n > want:
			return fmt.Errorf("%d connections, over the budget of %d", n, want)
		case n == want:
			return nil
		}
		time.Sleep(100 * time.Millisecond) // polling the database for the condition
	}
}
