package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drainTimeout is the APTQ_SHUTDOWN_TIMEOUT of the rolling restart.
const drainTimeout = 20 * time.Second

// TestRollingRestart deploys while 200 publishes run: two API processes
// and three workers are restarted one after the other with SIGTERM, as a
// deployment does, the first API (the one every CLI talks to) first. Each
// process must exit 0 within the drain timeout, every CLI must exit 0 (the
// CLIs retry while their API is away), nothing acknowledged may be lost and
// the observers must see no broken snapshot. It prints the publish latency;
// APTQ_ROLLING_QUIET=1 runs the same load without restarts, to compare.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	quiet := os.Getenv("APTQ_ROLLING_QUIET") == "1"
	events := &eventLog{start: time.Now()}
	c := newCluster(t, clusterOpts{workers: 3, apis: 2, leaseTTL: leaseTTL, signatureTimeout: 30 * time.Second,
		roundBudget: 20 * time.Second, partitions: 4, env: []string{"APTQ_SHUTDOWN_TIMEOUT=" + drainTimeout.String(),
			// As in the e2e tests: CLIs on a loaded two-core machine may miss
			// their polls for longer than the 10 s default (a restart takes ~1 s).
			"APTQ_CLIENT_GRACE=30s"}}, events)
	f := newFixture(t, c, 4, 200)
	obs := f.watch(c.apiURLs[1], 0, events)
	defer obs.stop()

	const spread = 60 * time.Second
	start := time.Now()
	ld := startLoad(c, f.pubs, f.keyFile, 20, spread, start.UnixNano(), func() bool { return false })
	var drains []string
	var restartStart, restartEnd time.Time
	if !quiet {
		restartStart = time.Now()
		procs := c.procs()
		for i, p := range procs {
			// Pacing of the deployment: the restarts spread over the load,
			// each while CLIs are busy.
			time.Sleep(time.Until(start.Add(spread * time.Duration(i+1) / time.Duration(len(procs)+1))))
			for deadline := time.Now().Add(10 * time.Second); ld.inFlight() == 0 && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			took, err := p.terminate(drainTimeout + 5*time.Second)
			events.add("deploy: %s stopped by SIGTERM in %v: %v", p.name, took.Round(time.Millisecond), err)
			assert.NoError(t, err, "%s exits 0 after SIGTERM", p.name)
			assert.LessOrEqual(t, took, drainTimeout, "%s exits within the drain timeout", p.name)
			drains = append(drains, fmt.Sprintf("%s %v", p.name, took.Round(10*time.Millisecond)))
			require.NoError(t, p.start())
			c.waitProcReady(p, 60*time.Second)
		}
		restartEnd = time.Now()
	}
	allExited := ld.wait(cliTimeout + 2*time.Minute)
	require.True(t, allExited, "every CLI exits\nevents:\n%s", events)
	settled, why, _ := c.waitSettled(90 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	observations, finalChecked := obs.finish(ctx)

	r := report{profile: profile{publishes: len(f.pubs)}}
	dbChanges, total, err := c.changesByJob(ctx)
	require.NoError(t, err)
	r.tally(f.pubs, dbChanges, total)
	r.observations = observations
	broken, regressions, snapshots, unavailable, _ := r.broken()

	all, during := publishLatencies(f.pubs, restartStart, restartEnd)
	mode := "rolling restart of every process"
	if quiet {
		mode = "no restart (quiet)"
	}
	summary := fmt.Sprintf("rolling: %s; %d publishes, CLI exits 0: %d; lost %d; broken snapshots %d of %d (%d reads unavailable); "+
		"publish latency p50 %v p95 %v (all), p50 %v p95 %v (started during the restarts, %d); restarts %v took %v; drains: %s",
		mode, len(f.pubs), r.cliPublished, len(r.lost), len(broken), snapshots, unavailable,
		all.p50, all.p95, during.p50, during.p95, during.n, restartEnd.Sub(restartStart).Round(100*time.Millisecond),
		time.Since(start).Round(100*time.Millisecond), strings.Join(drains, ", "))
	fmt.Println(summary)
	t.Log(summary)

	assert.Equal(t, len(f.pubs), r.cliPublished, "every CLI exits 0 (failed: %v, other: %v, not acknowledged: %v)",
		r.cliFailed, r.otherExits, r.notAckedDetails)
	assert.Empty(t, r.lost, "acknowledged changes lost")
	assert.Empty(t, r.contradictions, "CLI said published, the database disagrees")
	assert.Positive(t, snapshots, "snapshots observed")
	assert.Empty(t, broken, "broken snapshots")
	assert.Empty(t, regressions, "generation regressions")
	assert.True(t, settled, "S3 and the database converge: %s", why)
	assert.Equal(t, len(f.releases), finalChecked, "final snapshots checked in full")
	for _, p := range c.procs() {
		assert.Empty(t, p.unexpectedExits(), "%s died by itself", p.name)
	}
	if t.Failed() {
		t.Logf("events:\n%s", events)
	}
}

// waitProcReady waits until a restarted process serves: an API answers
// /readyz; a worker has logged that its workers started.
func (c *cluster) waitProcReady(p *proc, timeout time.Duration) {
	c.t.Helper()
	for i, api := range c.apis {
		if api == p {
			c.waitReady(c.apiURLs[i], timeout)
			return
		}
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p.logCount("workers started") >= p.startCount() {
			return
		}
	}
	c.t.Fatalf("%s has not started its workers after %v:\n%s", p.name, timeout, p.logTail(3000))
}

// latency is the median and 95th percentile of some publishes' durations.
type latency struct {
	n        int
	p50, p95 time.Duration
}

// publishLatencies is the latency of every publish, and of those started
// between from and to.
func publishLatencies(pubs []*publish, from, to time.Time) (all, during latency) {
	var a, d []time.Duration
	for _, p := range pubs {
		took := p.ended.Sub(p.started)
		a = append(a, took)
		if !from.IsZero() && p.started.After(from) && p.started.Before(to) {
			d = append(d, took)
		}
	}
	return percentiles(a), percentiles(d)
}

func percentiles(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		return ds[min(len(ds)-1, int(q*float64(len(ds))))].Round(10 * time.Millisecond)
	}
	return latency{n: len(ds), p50: at(0.5), p95: at(0.95)}
}
