package chaos

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/faults3"
)

// TestTakeoverBound kills every worker with SIGKILL while one holds a
// release's lease mid-publish, restarts them at once (a supervisor's
// restart), and checks that the round is published within lease TTL + 3 s
// of the kill, by the database clock: the restarted workers see the dead
// holder's lease and resume the release as it expires, without the
// periodic sweep (it waits for changes quiet for 10 s) or River's rescue of
// stuck jobs (minutes). S3 is slow until the kill, so that the leader is
// caught mid-round; then fast, so that the bound measures the takeover.
func TestTakeoverBound(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	const bound = ttl + 3*time.Second
	const samples = 3
	events := &eventLog{start: time.Now()}
	c := newCluster(t, clusterOpts{workers: 2, leaseTTL: ttl, signatureTimeout: 30 * time.Second,
		roundBudget: 20 * time.Second, partitions: 2}, events)
	f := newFixture(t, c, 1, samples)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var took []time.Duration
	for _, p := range f.pubs {
		c.proxy.SetFaults(faults3.Config{LatencyRate: 1, Latency: 300 * time.Millisecond})
		done := make(chan struct{})
		go func() { defer close(done); (&load{}).run(c, p, f.keyFile) }()

		holder, token, err := c.waitLeaseOfWork(ctx)
		require.NoError(t, err)
		victim := c.workerByPID(holderPID(holder))
		require.NotNil(t, victim, "lease holder %s is none of the workers", holder)
		for _, w := range append([]*proc{victim}, c.workers...) {
			if w.running() {
				_, err := w.kill()
				require.NoError(t, err)
			}
		}
		killedAt, err := c.dbNow(ctx)
		require.NoError(t, err)
		c.proxy.SetFaults(faults3.Config{})
		for _, w := range c.workers {
			require.NoError(t, w.start())
		}
		events.add("killed every worker while %s held the lease (token %d)", holder, token)

		<-done
		require.Equal(t, 0, p.res.exit, "CLI: %s", p.res.stderr)
		require.NotNil(t, p.out.JobID)
		publishedAt, takeovers, err := c.publishedAfterTakeover(ctx, *p.out.JobID, token)
		require.NoError(t, err)
		d := publishedAt.Sub(killedAt)
		events.add("published %v after the kill", d.Round(time.Millisecond))
		took = append(took, d)
		require.LessOrEqual(t, d, bound, "published %v after the kill; lease TTL %v\nevents:\n%s", d, ttl, events)
		require.Positive(t, takeovers, "a resume job took over the expired lease %d", token)
	}
	t.Logf("lease TTL %v: published again %v after kill -9 of every worker (bound %v)", ttl, took, bound)
	fmt.Printf("takeover: lease TTL %v, published again after %v (bound %v)\n", ttl, took, bound)
}

// waitLeaseOfWork waits for a live lease on a release with unfinished
// changes and returns its holder and token.
func (c *cluster) waitLeaseOfWork(ctx context.Context) (holder string, token int64, err error) {
	for ctx.Err() == nil {
		err = c.pg.query(ctx, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `
				SELECT l.holder, l.token FROM release_leases l
				WHERE l.expires_at > now() AND EXISTS (SELECT 1 FROM changes c
					WHERE c.release_id = l.release_id AND c.state IN ('pending', 'in_round'))
				LIMIT 1`).Scan(&holder, &token)
		})
		if !errors.Is(err, pgx.ErrNoRows) {
			return holder, token, err
		}
		time.Sleep(20 * time.Millisecond) // polling the database for the condition
	}
	return "", 0, ctx.Err()
}

func (c *cluster) workerByPID(pid int) *proc {
	for _, w := range c.workers {
		if pid != 0 && w.pid() == pid {
			return w
		}
	}
	return nil
}

func (c *cluster) dbNow(ctx context.Context) (now time.Time, err error) {
	err = c.pg.query(ctx, func(conn *pgx.Conn) error { return conn.QueryRow(ctx, `SELECT now()`).Scan(&now) })
	return now, err
}

// publishedAfterTakeover returns when the round of the job's change was
// published, and how many resume jobs were enqueued for the expired lease.
func (c *cluster) publishedAfterTakeover(ctx context.Context, jobID, token int64) (at time.Time, takeovers int, err error) {
	err = c.pg.query(ctx, func(conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, `
			SELECT r.published_at FROM changes c JOIN rounds r ON r.id = c.round_id
			WHERE c.job_id = $1 AND r.state = 'published'`, jobID).Scan(&at)
		if err != nil {
			return fmt.Errorf("published round of job %d: %w", jobID, err)
		}
		return conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'publish' AND (args->>'take_over')::bigint = $1`,
			token).Scan(&takeovers)
	})
	return at, takeovers, err
}
