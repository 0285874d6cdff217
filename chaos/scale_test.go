package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/faults3"
)

// scaleProfile sizes a scale run.
type scaleProfile struct {
	name                 string
	apis, workers        int
	releases, publishes  int
	concurrency, watched int
}

// TestScale publishes to many releases through several API processes and
// workers at once, with S3 faults, and reports what an operator sizes a
// deployment by: rounds per second, and the CPU time each process kind
// spends per round (from /proc/<pid>/stat) and the CLI per publish. It
// checks that nothing acknowledged is lost and S3 converges. It runs with
// APTQ_CHAOS_SCALE=1 (`make scale`: 3 API, 4 workers, 100 releases, 2000
// publishes); otherwise a small variant runs.
func TestScale(t *testing.T) {
	t.Parallel()
	prof := scaleProfile{name: "small", apis: 2, workers: 2, releases: 10, publishes: 100, concurrency: 16, watched: 2}
	if os.Getenv("APTQ_CHAOS_SCALE") == "1" {
		prof = scaleProfile{name: "scale", apis: 3, workers: 4, releases: 100, publishes: 2000, concurrency: 24, watched: 4}
	}
	events := &eventLog{start: time.Now()}
	c := newCluster(t, clusterOpts{workers: prof.workers, apis: prof.apis, leaseTTL: 10 * time.Second,
		signatureTimeout: time.Minute, roundBudget: 30 * time.Second, partitions: 16}, events)
	f := newFixture(t, c, prof.releases, prof.publishes)
	for i, p := range f.pubs {
		p.api = c.apiURLs[i%len(c.apiURLs)]
	}
	obs := f.watch(c.apiURLs[len(c.apiURLs)-1], prof.watched, events)
	defer obs.stop()
	ctx := context.Background()

	cpuBefore, err := c.cpuByKind()
	require.NoError(t, err)
	roundsBefore, err := c.publishedRounds(ctx)
	require.NoError(t, err)
	c.proxy.SetFaults(s3Faults)
	start := time.Now()
	ld := startLoad(c, f.pubs, f.keyFile, prof.concurrency, 0, start.UnixNano(), func() bool { return false })
	// The CLIs run back to back: the load lasts as long as they take, each
	// at most its --timeout.
	require.True(t, ld.wait(time.Duration(prof.publishes/prof.concurrency+1)*(cliTimeout+time.Minute)), "every CLI exits")
	loadTime := time.Since(start)
	cpuAfter, err := c.cpuByKind()
	require.NoError(t, err)
	rounds, err := c.publishedRounds(ctx)
	require.NoError(t, err)
	rounds -= roundsBefore
	c.proxy.SetFaults(faults3.Config{})
	settled, why, _ := c.waitSettled(3 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	observations, finalChecked := obs.finish(ctx)

	r := report{}
	dbChanges, total, err := c.changesByJob(ctx)
	require.NoError(t, err)
	r.tally(f.pubs, dbChanges, total)
	r.observations = observations
	broken, regressions, snapshots, _, _ := r.broken()
	var cliCPU time.Duration
	for _, p := range f.pubs {
		cliCPU += p.res.cpu
	}
	lat, _ := publishLatencies(f.pubs, time.Time{}, time.Time{})
	perRound := func(kind string) time.Duration {
		return ((cpuAfter[kind] - cpuBefore[kind]) / time.Duration(max(rounds, 1))).Round(100 * time.Microsecond)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scale (%s): %d API + %d workers, %d releases, %d publishes by %d CLIs at a time, S3 faults %v\n",
		prof.name, prof.apis, prof.workers, prof.releases, prof.publishes, prof.concurrency, c.proxy.Stats())
	fmt.Fprintf(&b, "  load %v: %.1f publishes/s, %d rounds published (%.2f rounds/s, %.1f changes per round); latency p50 %v p95 %v\n",
		loadTime.Round(100*time.Millisecond), float64(len(f.pubs))/loadTime.Seconds(), rounds,
		float64(rounds)/loadTime.Seconds(), float64(r.dbPublished)/float64(max(rounds, 1)), lat.p50, lat.p95)
	fmt.Fprintf(&b, "  CPU: API processes %v (%v per round), workers %v (%v per round), CLI %v per publish\n",
		(cpuAfter["api"] - cpuBefore["api"]).Round(10*time.Millisecond), perRound("api"),
		(cpuAfter["worker"] - cpuBefore["worker"]).Round(10*time.Millisecond), perRound("worker"),
		(cliCPU / time.Duration(len(f.pubs))).Round(100*time.Microsecond))
	fmt.Fprintf(&b, "  CLI exits 0: %d of %d; lost %d; failed with a reason %d%s; broken snapshots %d of %d; settled %v %s",
		r.cliPublished, len(f.pubs), len(r.lost), sum(r.dbFailed), codes(r.dbFailed), len(broken), snapshots, settled, why)
	fmt.Println(b.String())
	t.Log(b.String())

	assert.Empty(t, r.lost, "acknowledged changes lost")
	assert.Empty(t, r.contradictions, "CLI said published, the database disagrees")
	assert.Empty(t, r.failedAfterPublish, "CLI said failed, the change was published")
	assert.GreaterOrEqual(t, r.dbPublished*10, r.acked*9, "at least 90%% of the acknowledged changes published")
	assert.Positive(t, rounds, "rounds published")
	assert.Empty(t, broken, "broken snapshots")
	assert.Empty(t, regressions, "generation regressions")
	assert.True(t, settled, "S3 and the database converge: %s", why)
	assert.Equal(t, len(observations), finalChecked, "final snapshots checked in full")
	for _, p := range c.procs() {
		assert.Empty(t, p.unexpectedExits(), "%s died by itself", p.name)
	}
}

// publishedRounds counts the rounds published so far.
func (c *cluster) publishedRounds(ctx context.Context) (n int, err error) {
	err = c.pg.query(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(*) FROM rounds WHERE state = 'published'`).Scan(&n)
	})
	return n, err
}
