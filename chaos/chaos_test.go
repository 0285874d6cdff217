package chaos

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/faults3"
	"github.com/aptq/aptq/internal/observe"
	"github.com/aptq/aptq/internal/systest"
)

// repoName is the one repository of a run; its releases are named r1, r2, …
const repoName = "chaos"

// profile sizes a run.
type profile struct {
	name        string
	publishes   int
	releases    int
	concurrency int // CLIs at once
	workers     int
	server      clusterOpts
	plan        plan
	settle      time.Duration // how long S3 and the database may take to converge after the CLIs
}

// The lease TTL is short so that takeovers happen within the run; a
// paused worker stays stopped past it.
const leaseTTL = 5 * time.Second

var s3Faults = faults3.Config{ErrorRate: 0.02, ResetRate: 0.01, LatencyRate: 0.05, Latency: 200 * time.Millisecond}

func profiles() (short, long profile) {
	server := clusterOpts{workers: 3, leaseTTL: leaseTTL, signatureTimeout: 30 * time.Second,
		roundBudget: 20 * time.Second, partitions: 4}
	short = profile{name: "short", publishes: 60, releases: 3, concurrency: 20, workers: 3, server: server,
		plan: plan{duration: 45 * time.Second, workerKills: 5, apiRestarts: 1, pgRestarts: 1, pgDown: 2 * time.Second, pauses: 1,
			pauseFor: leaseTTL + 3*time.Second, faults: s3Faults},
		settle: 90 * time.Second}
	long = profile{name: "long", publishes: 600, releases: 4, concurrency: 20, workers: 3, server: server,
		plan: plan{duration: 6 * time.Minute, workerKills: 24, apiRestarts: 2, pgRestarts: 2, pgDown: 2 * time.Second, pauses: 3,
			pauseFor: leaseTTL + 3*time.Second, faults: s3Faults},
		settle: 3 * time.Minute}
	return short, long
}

// TestChaos publishes while workers, the API and Postgres are killed and
// restarted, a worker is paused past its lease and S3 fails, then checks
// that no acknowledged change was lost, readers never saw a broken
// repository or an older generation, S3 converged to the database, and
// apt-get accepts every release. See the package comment for the long run.
func TestChaos(t *testing.T) {
	t.Parallel()
	prof, long := profiles()
	if os.Getenv("APTQ_CHAOS_LONG") == "1" {
		prof = long
	}
	seed := time.Now().UnixNano() % 1e9
	if s := os.Getenv("APTQ_CHAOS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "APTQ_CHAOS_SEED")
	}
	prof.server.seed = seed
	t.Logf("chaos %s run, seed %d (APTQ_CHAOS_SEED=%d replays the schedule)", prof.name, seed, seed)
	testStart := time.Now()
	events := &eventLog{start: testStart}

	c := newCluster(t, prof.server, events)
	f := newFixture(t, c, prof.releases, prof.publishes)
	releases, pubs, keyFile, pubKey := f.releases, f.pubs, f.keyFile, f.pubKey
	obs := f.watch(c.URL, 0, events)
	defer obs.stop()

	// Chaos and load together.
	events.add("setup done in %v; chaos for %v, %d publishes to %d releases, %d CLIs at a time",
		time.Since(testStart).Round(time.Millisecond), prof.plan.duration, prof.publishes, prof.releases, prof.concurrency)
	chaosStart := time.Now()
	d := newDriver(c, prof.plan, seed, events)
	ld := startLoad(c, pubs, keyFile, prof.concurrency, prof.plan.duration*9/10, seed, d.isOver)
	d.busy = func() bool { return ld.inFlight() > 0 }
	driverCtx, stopDriver := context.WithCancel(context.Background())
	driverDone := make(chan struct{})
	go func() { defer close(driverDone); d.run(driverCtx) }()
	<-driverDone
	stopDriver()
	d.end()
	chaosTime := time.Since(chaosStart)

	// Settle: every CLI exits by itself (each has --timeout), then S3 and
	// the database must converge.
	settleStart := time.Now()
	allExited := ld.wait(cliTimeout + 2*time.Minute)
	events.add("CLIs done (all exited: %v)", allExited)
	if !allExited {
		// Each CLI is killed a minute after its --timeout; one still running
		// now hangs past that (and its result cannot be read safely).
		t.Fatalf("CLIs still running %v after the chaos, past their --timeout %v\nevents:\n%s",
			time.Since(settleStart), cliTimeout, events)
	}
	settled, why, _ := c.waitSettled(prof.settle)
	events.add("settled: %v %s", settled, why)
	settleTime := time.Since(settleStart)

	finalCtx, cancelFinal := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelFinal()
	observations, finalChecked := obs.finish(finalCtx)

	// The ledger: every CLI against the database.
	r := report{profile: prof, seed: seed, driver: d, proxy: c.proxy.Stats(), load: ld, settled: settled,
		settleWhy: why, allExited: allExited, chaosTime: chaosTime, settleTime: settleTime, finalChecked: finalChecked}
	dbChanges, totalChanges, err := c.changesByJob(finalCtx)
	require.NoError(t, err)
	r.tally(pubs, dbChanges, totalChanges)
	r.observations = observations
	rels, err := c.releases(finalCtx)
	require.NoError(t, err)
	r.releases = rels
	members, err := c.publishedMembers(finalCtx)
	require.NoError(t, err)
	for _, rel := range releases {
		r.indexProblems = append(r.indexProblems, c.checkIndex(finalCtx, rel, members[rel], []string{"amd64", "arm64"})...)
		if err := aptUpdate(t, c.repoURL(repoName), rel, string(pubKey)); err != nil {
			r.aptFailures = append(r.aptFailures, err.Error())
		} else {
			r.aptOK++
		}
	}
	r.rounds = c.counts(finalCtx, `SELECT state || coalesce(' ' || error_code, ''), count(*) FROM rounds GROUP BY 1 ORDER BY 1`)
	r.riverJobs = c.counts(finalCtx, `SELECT kind || ' ' || state, count(*) FROM river_job GROUP BY 1 ORDER BY 1`)
	for _, p := range c.procs() {
		r.unexpectedExits = append(r.unexpectedExits, p.unexpectedExits()...)
	}
	r.total = time.Since(testStart)

	text := r.String()
	fmt.Print(text) // for CI logs, which show stdout with -v
	t.Log("\n" + text)
	t.Logf("events:\n%s", events.String())
	r.assert(t)
}

// report is the outcome of a run, checked and printed.
type report struct {
	profile      profile
	seed         int64
	driver       *driver
	proxy        faults3.Stats
	load         *load
	observations []observe.Observation
	releases     []dbRelease

	settled      bool
	settleWhy    string
	allExited    bool
	finalChecked int

	cliRuns, duringChaos, acked, notAcked       int
	cliPublished, cliTimedOut, cliOther, hung   int
	cliFailed, notAckedWhy, dbFailed            map[string]int
	dbPublished                                 int
	lost, contradictions, otherExits            []string
	notAckedDetails                             []string
	changesWithoutCLI                           int
	indexProblems, aptFailures, unexpectedExits []string
	aptOK                                       int
	rounds, riverJobs                           string
	chaosTime, settleTime, total                time.Duration
	failedAfterPublish                          []string
}

// tally compares every CLI's outcome with its change in the database.
func (r *report) tally(pubs []*publish, db map[int64]dbChange, totalChanges int) {
	r.cliFailed, r.notAckedWhy, r.dbFailed = map[string]int{}, map[string]int{}, map[string]int{}
	for _, p := range pubs {
		r.cliRuns++
		if p.duringChaos {
			r.duringChaos++
		}
		if p.killed {
			r.hung++
		}
		code := p.errorCode()
		if p.out.JobID == nil {
			r.notAcked++
			why := code
			if !p.parsed {
				why = fmt.Sprintf("exit %d, no JSON: %s", p.res.exit, systest.Tail(strings.TrimSpace(p.res.stderr), 200))
			}
			r.notAckedWhy[why]++
			r.notAckedDetails = append(r.notAckedDetails, fmt.Sprintf("%s → %s: exit %d: %s", p.pkg, p.release, p.res.exit,
				systest.Tail(strings.Join(strings.Fields(p.res.stderr), " "), 300)))
			continue
		}
		r.acked++
		job := *p.out.JobID
		ch, ok := db[job]
		switch {
		case !ok:
			r.lost = append(r.lost, fmt.Sprintf("job %d (%s → %s): no change in the database", job, p.pkg, p.release))
		case ch.state == "published":
			r.dbPublished++
		case (ch.state == "failed" || ch.state == "cancelled") && ch.code != "":
			r.dbFailed[ch.code]++
		default:
			r.lost = append(r.lost, fmt.Sprintf("job %d (%s → %s): change is %s %q %q after the run, CLI exit %d %s",
				job, p.pkg, p.release, ch.state, ch.code, ch.message, p.res.exit, code))
		}
		switch p.res.exit {
		case 0:
			r.cliPublished++
			if ch.state != "published" {
				r.contradictions = append(r.contradictions, fmt.Sprintf("job %d: the CLI said published, the database says %s %s", job, ch.state, ch.code))
			}
		case 1:
			r.cliFailed[code]++
			if ch.state == "published" {
				r.failedAfterPublish = append(r.failedAfterPublish, fmt.Sprintf("job %d: the CLI said failed (%s: %s), the change was published; CLI stderr: %s",
					job, code, p.out.Error.Message, systest.Tail(strings.Join(strings.Fields(p.res.stderr), " "), 400)))
			}
		case 3:
			r.cliTimedOut++
		default:
			r.cliOther++
			r.otherExits = append(r.otherExits, fmt.Sprintf("job %d: exit %d: %s", job, p.res.exit, systest.Tail(p.res.stderr, 300)))
		}
	}
	r.changesWithoutCLI = totalChanges - r.acked
}

func (r *report) broken() (broken, regressions []string, snapshots, unavailable int, gens int) {
	for _, o := range r.observations {
		broken = append(broken, o.Broken...)
		regressions = append(regressions, o.Regressions...)
		snapshots += o.Snapshots
		unavailable += o.Unavailable
		gens += len(o.Generations)
	}
	return
}

func codes(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, v := range m {
		if k == "" {
			k = "(no code)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
