package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aptq/aptq/faults3"
)

// plan is what the chaos driver does during a run.
type plan struct {
	duration    time.Duration
	workerKills int
	apiRestarts int
	pgRestarts  int
	// pgDown is how long the first, third, … Postgres restart keeps the
	// server down; the others are a plain `pg_ctl restart`.
	pgDown   time.Duration
	pauses   int
	pauseFor time.Duration // longer than the lease TTL
	faults   faults3.Config
}

// action is one scheduled fault.
type action struct {
	at   time.Duration
	kind string // "kill", "api", "pg", "pause"
}

// schedule spreads the plan's actions over its duration: kills evenly with
// jitter, the rarer ones at fixed fractions, so that a short run still gets
// each kind while CLIs are busy.
func (p plan) schedule(rng *rand.Rand) []action {
	var acts []action
	d := float64(p.duration)
	at := func(f float64) time.Duration { return time.Duration(min(max(f, 0.03), 0.92) * d) }
	for i := range p.workerKills {
		slot := 1 / float64(p.workerKills)
		acts = append(acts, action{at((float64(i)+0.5)*slot + (rng.Float64()-0.5)*0.6*slot), "kill"})
	}
	spread := func(n int, offset float64, kind string) {
		for i := range n {
			acts = append(acts, action{at(float64(i+1)/float64(n+1) + offset), kind})
		}
	}
	spread(p.apiRestarts, -0.2, "api")
	spread(p.pgRestarts, 0.05, "pg")
	spread(p.pauses, 0.2, "pause")
	slices.SortStableFunc(acts, func(a, b action) int { return int(a.at - b.at) })
	return acts
}

// driver carries out a plan on a cluster, and supervises its processes:
// like systemd would, it restarts one that died by itself.
type driver struct {
	c      *cluster
	plan   plan
	rng    *rand.Rand
	events *eventLog

	// busy reports whether CLIs are in flight; the driver waits a little
	// for some before it strikes, so that no fault falls on an idle system.
	busy func() bool

	mu           sync.Mutex // one action at a time; the supervisor waits
	kills        int
	holderKills  int
	apiRestarts  int
	pgRestarts   int
	pgDowntime   []time.Duration
	pauses       int
	holderPauses int
	restarts     int // supervisor restarts of processes that died by themselves
	failures     []string
	resumeTimers []*time.Timer
	over         atomic.Bool
}

func newDriver(c *cluster, p plan, seed int64, events *eventLog) *driver {
	return &driver{c: c, plan: p, rng: rand.New(rand.NewPCG(uint64(seed), 7)), events: events}
}

// run carries out the schedule until it is done or ctx ends.
func (d *driver) run(ctx context.Context) {
	start := time.Now()
	d.c.proxy.SetFaults(d.plan.faults)
	d.events.add("chaos: S3 faults on: %.1f%% 500s, %.1f%% resets, %.0f%% delayed by ~%v",
		100*d.plan.faults.ErrorRate, 100*d.plan.faults.ResetRate, 100*d.plan.faults.LatencyRate, d.plan.faults.Latency)

	supervise, stopSupervising := context.WithCancel(ctx)
	defer stopSupervising()
	go d.supervise(supervise)

	for _, a := range d.plan.schedule(d.rng) {
		t := time.NewTimer(time.Until(start.Add(a.at)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Pacing of the fault: strike when CLIs are in flight, if any come
		// within a few seconds.
		for wait := time.Now().Add(5 * time.Second); d.busy != nil && !d.busy() && time.Now().Before(wait); {
			time.Sleep(50 * time.Millisecond)
		}
		d.mu.Lock()
		switch a.kind {
		case "kill":
			d.killWorker()
		case "api":
			d.restartAPI()
		case "pg":
			d.restartPostgres(ctx)
		case "pause":
			d.pauseWorker()
		}
		d.mu.Unlock()
	}
	t := time.NewTimer(time.Until(start.Add(d.plan.duration)))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (d *driver) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.failures = append(d.failures, msg)
	d.events.add("chaos: FAILED %s", msg)
}

// victim picks a worker to hurt: half the time (always, for a pause) the
// holder of a live lease — the interesting one: it may be mid-round — if
// one appears within a few seconds, else any running worker.
func (d *driver) victim(wantHolder bool) (*proc, bool) {
	candidates := func() []*proc {
		var out []*proc
		for _, w := range d.c.workers {
			if w.running() && !w.isPaused() {
				out = append(out, w)
			}
		}
		return out
	}
	if wantHolder || d.rng.IntN(2) == 0 {
		// Pacing of the fault: look for a holder for up to 5 s.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			pid := d.leaseHolderPID()
			for _, w := range candidates() {
				if pid != 0 && w.pid() == pid {
					return w, true
				}
			}
		}
	}
	c := candidates()
	if len(c) == 0 {
		return nil, false
	}
	return c[d.rng.IntN(len(c))], false
}

// leaseHolderPID returns the pid of a worker holding a live lease, 0 when
// none does. Holders are named host-pid-suffix (cmd/aptqd holderName).
func (d *driver) leaseHolderPID() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var holders []string
	err := d.c.pg.query(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT holder FROM release_leases WHERE expires_at > now()`)
		if err != nil {
			return err
		}
		holders, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(holders) == 0 {
		return 0
	}
	return holderPID(holders[d.rng.IntN(len(holders))])
}

// holderPID is the pid in a lease holder's name (host-pid-suffix), 0 if
// there is none.
func holderPID(holder string) int {
	parts := strings.Split(holder, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

func (d *driver) killWorker() {
	w, holder := d.victim(false)
	if w == nil {
		d.events.add("chaos: no running worker to kill")
		return
	}
	pid, err := w.kill()
	if err != nil {
		d.fail("kill %s: %v", w.name, err)
		return
	}
	d.kills++
	what := "a worker"
	if holder {
		d.holderKills++
		what = "a lease holder"
	}
	// Down for a moment, as under a process supervisor.
	down := time.Duration(200+d.rng.IntN(1800)) * time.Millisecond
	time.Sleep(down) // pacing of the fault, not synchronisation
	if err := w.start(); err != nil {
		d.fail("restart %s: %v", w.name, err)
		return
	}
	d.events.add("chaos: kill -9 %s (pid %d, %s), restarted after %v as pid %d", w.name, pid, what, down, w.pid())
}

func (d *driver) restartAPI() {
	pid, err := d.c.api.kill()
	if err != nil {
		d.fail("kill api: %v", err)
		return
	}
	down := time.Duration(500+d.rng.IntN(1500)) * time.Millisecond
	time.Sleep(down) // pacing of the fault
	if err := d.c.api.start(); err != nil {
		d.fail("restart api: %v", err)
		return
	}
	d.apiRestarts++
	d.events.add("chaos: kill -9 api (pid %d), restarted after %v as pid %d", pid, down, d.c.api.pid())
}

func (d *driver) restartPostgres(ctx context.Context) {
	down := d.plan.pgDown
	if d.pgRestarts%2 == 1 {
		down = 0
	}
	took, err := d.c.pg.restart(ctx, down)
	if err != nil {
		d.fail("%v", err)
		return
	}
	d.pgRestarts++
	d.pgDowntime = append(d.pgDowntime, took)
	how := "pg_ctl restart -m fast"
	if down > 0 {
		how = fmt.Sprintf("pg_ctl stop -m fast, down %v, pg_ctl start", down)
	}
	d.events.add("chaos: postgres restarted (%s): away %v", how, took.Round(time.Millisecond))
}

func (d *driver) pauseWorker() {
	w, holder := d.victim(true)
	if w == nil {
		d.events.add("chaos: no running worker to pause")
		return
	}
	pid, err := w.pause()
	if err != nil {
		d.fail("pause %s: %v", w.name, err)
		return
	}
	d.pauses++
	what := "a worker"
	if holder {
		d.holderPauses++
		what = "a lease holder"
	}
	d.events.add("chaos: SIGSTOP %s (pid %d, %s) for %v", w.name, pid, what, d.plan.pauseFor)
	d.resumeTimers = append(d.resumeTimers, time.AfterFunc(d.plan.pauseFor, func() {
		if err := w.resume(); err != nil {
			d.events.add("chaos: SIGCONT %s: %v", w.name, err)
			return
		}
		d.events.add("chaos: SIGCONT %s (pid %d)", w.name, pid)
	}))
}

// supervise restarts processes that died by themselves, once a second.
func (d *driver) supervise(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		d.restartDead()
		d.mu.Unlock()
	}
}

func (d *driver) restartDead() {
	for _, p := range d.c.procs() {
		if p.running() {
			continue
		}
		if err := p.start(); err != nil {
			d.fail("supervisor: restart %s: %v", p.name, err)
			continue
		}
		d.restarts++
		d.events.add("supervisor: restarted %s as pid %d", p.name, p.pid())
	}
}

// end stops the chaos: S3 faults off, every paused worker continued, every
// dead process restarted.
func (d *driver) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.over.Store(true)
	d.c.proxy.SetFaults(faults3.Config{})
	for _, t := range d.resumeTimers {
		t.Stop()
	}
	for _, w := range d.c.workers {
		if w.isPaused() {
			_ = w.resume()
			d.events.add("chaos over: SIGCONT %s", w.name)
		}
	}
	d.restartDead()
	d.events.add("chaos over: S3 faults off, every process running")
}

func (d *driver) isOver() bool { return d.over.Load() }
