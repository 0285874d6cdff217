package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aptq/aptq/internal/systest"

	"github.com/stretchr/testify/assert"
)

// String renders the run as the table the test prints.
func (r *report) String() string {
	var b strings.Builder
	d := r.driver
	p := r.profile
	fmt.Fprintf(&b, "\n=== aptq chaos, %s run, seed %d: %d publishes to %d releases, %d workers, %d CLIs at a time ===\n",
		p.name, r.seed, p.publishes, p.releases, p.workers, p.concurrency)
	var pg []string
	for _, t := range d.pgDowntime {
		pg = append(pg, t.Round(100*time.Millisecond).String())
	}
	fmt.Fprintf(&b, "chaos for %v: %d worker kills -9 (%d of lease holders), %d API kill+restart, %d Postgres restarts (%s), "+
		"%d SIGSTOP for %v (%d of lease holders), %d restarts of processes that died by themselves\n",
		r.chaosTime.Round(100*time.Millisecond), d.kills, d.holderKills, d.apiRestarts, d.pgRestarts, strings.Join(pg, ", "),
		d.pauses, p.plan.pauseFor, d.holderPauses, d.restarts)
	fmt.Fprintf(&b, "S3 through faults3: %v\n", r.proxy)
	broken, regressions, snapshots, unavailable, gens := r.broken()
	row := func(what, value, must string) { fmt.Fprintf(&b, "| %-60s | %-34s | %-8s |\n", what, value, must) }
	row("check", "value", "required")
	b.WriteString("|" + strings.Repeat("-", 62) + "|" + strings.Repeat("-", 36) + "|" + strings.Repeat("-", 10) + "|\n")
	row("CLIs run (pkg add, one package each)", fmt.Sprintf("%d (%d started during chaos)", r.cliRuns, r.duringChaos), "")
	row("acknowledged changes (the CLI got a job id)", fmt.Sprint(r.acked), "")
	row("  published (database)", fmt.Sprint(r.dbPublished), "")
	row("  failed with a reason (database)", fmt.Sprintf("%d%s", sum(r.dbFailed), codes(r.dbFailed)), "")
	row("  LOST (neither published nor failed with a reason)", fmt.Sprint(len(r.lost)), "= 0")
	row("CLI exits: 0 published / 1 failed / 3 timed out / other",
		fmt.Sprintf("%d / %d / %d / %d", r.cliPublished, sum(r.cliFailed), r.cliTimedOut, r.cliOther), "")
	if len(r.cliFailed) > 0 {
		row("  CLI failure codes", strings.Trim(codes(r.cliFailed), " ()"), "")
	}
	row("CLI said published, the database disagrees", fmt.Sprint(len(r.contradictions)), "= 0")
	row("CLI said failed, the change was published", fmt.Sprint(len(r.failedAfterPublish)), "= 0")
	row("CLIs killed by the harness (outlived --timeout)", fmt.Sprint(r.hung), "= 0")
	row("not acknowledged (the CLI failed before the 202)", fmt.Sprintf("%d%s", r.notAcked, codes(r.notAckedWhy)), "")
	row("changes recorded that no CLI was told of (retried POSTs)", fmt.Sprint(r.changesWithoutCLI), "")
	row("InRelease snapshots checked in full", fmt.Sprint(snapshots), "> 0")
	row("  reads that found no server (API or S3 down)", fmt.Sprint(unavailable), "")
	row("  distinct generations seen", fmt.Sprint(gens), "")
	row("BROKEN snapshots (missing/wrong by-hash, bad signature)", fmt.Sprint(len(broken)), "= 0")
	row("generation REGRESSIONS", fmt.Sprint(len(regressions)), "= 0")
	settled := fmt.Sprintf("%d/%d releases", len(r.releases), len(r.releases))
	if !r.settled {
		settled = "NO: " + r.settleWhy
	}
	row("final S3 == DB (generation = published = S3 InRelease)", systest.Tail(settled, 34), "all")
	row("final snapshot re-checked from scratch", fmt.Sprintf("%d/%d", r.finalChecked, len(r.observations)), "all")
	row("final index == published changes; pool files intact", fmt.Sprintf("%d problems", len(r.indexProblems)), "= 0")
	row("apt-get update accepts the release", fmt.Sprintf("%d/%d", r.aptOK, r.aptOK+len(r.aptFailures)), "all")
	row("aptqd processes that died by themselves", fmt.Sprint(len(r.unexpectedExits)), "")
	var rels []string
	for _, rel := range r.releases {
		rels = append(rels, fmt.Sprintf("%s gen %d (published %d)", rel.name, rel.generation, rel.published))
	}
	fmt.Fprintf(&b, "releases: %s\n", strings.Join(rels, ", "))
	fmt.Fprintf(&b, "rounds: %s\n", r.rounds)
	fmt.Fprintf(&b, "river jobs: %s\n", r.riverJobs)
	fmt.Fprintf(&b, "time: chaos %v, settle %v, total %v; at most %d CLIs ran at once\n",
		r.chaosTime.Round(100*time.Millisecond), r.settleTime.Round(100*time.Millisecond), r.total.Round(100*time.Millisecond),
		r.load.maxSeen)
	details := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(items))
		for i, s := range items {
			if i == 20 {
				fmt.Fprintf(&b, "  … %d more\n", len(items)-20)
				break
			}
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	details("LOST changes", r.lost)
	details("CLI/database contradictions", r.contradictions)
	details("CLI said failed, change published", r.failedAfterPublish)
	details("other CLI exits", r.otherExits)
	details("CLIs that failed before their change was acknowledged", r.notAckedDetails)
	details("BROKEN snapshots", broken)
	details("generation REGRESSIONS", regressions)
	details("index problems", r.indexProblems)
	details("apt-get failures", r.aptFailures)
	details("processes that died by themselves", r.unexpectedExits)
	details("chaos driver failures", d.failures)
	return b.String()
}

// assert checks the run's guarantees; every failed check is reported.
func (r *report) assert(t *testing.T) {
	t.Helper()
	broken, regressions, snapshots, _, _ := r.broken()
	d, p := r.driver, r.profile
	// The chaos happened, or the rest proves nothing.
	assert.Empty(t, d.failures, "the chaos driver failed")
	assert.Equal(t, p.plan.workerKills, d.kills, "worker kills")
	assert.Equal(t, p.plan.apiRestarts, d.apiRestarts, "API restarts")
	assert.Equal(t, p.plan.pgRestarts, d.pgRestarts, "Postgres restarts")
	assert.Equal(t, p.plan.pauses, d.pauses, "SIGSTOPs")
	assert.Positive(t, r.proxy.Errors, "S3 500s injected")
	assert.Positive(t, r.proxy.Resets(), "S3 resets injected")

	// G4: nothing acknowledged is lost; what the CLI said is what happened.
	assert.True(t, r.allExited, "every CLI exited by itself within its --timeout")
	assert.Zero(t, r.hung, "CLIs that outlived their --timeout")
	assert.Empty(t, r.lost, "acknowledged changes lost")
	assert.Empty(t, r.contradictions, "CLI said published, the database disagrees")
	assert.Empty(t, r.failedAfterPublish, "CLI said failed, the change was published")
	assert.Positive(t, r.acked, "acknowledged changes")
	// G8, loosely: the system still works under this chaos.
	assert.GreaterOrEqual(t, r.dbPublished*2, r.acked, "at least half of the acknowledged changes published")

	// G2, G5: readers never saw a broken repository or an older generation.
	assert.Positive(t, snapshots, "snapshots observed")
	assert.Empty(t, broken, "broken snapshots")
	assert.Empty(t, regressions, "generation regressions")

	// G6: S3 converged to the database; the result is a valid repository.
	assert.True(t, r.settled, "S3 and the database converge: %s", r.settleWhy)
	assert.Equal(t, len(r.observations), r.finalChecked, "final snapshots checked in full")
	assert.Empty(t, r.indexProblems, "final index == published changes")
	assert.Empty(t, r.aptFailures, "apt-get update")
}
