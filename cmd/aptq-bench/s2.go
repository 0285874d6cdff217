package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// s2mode is one way of running S2's publishes: all at once, or at most
// limit at a time (a sliding window: a new CLI starts as soon as one exits).
type s2mode struct {
	key     string // release and file-name tag
	how     string // "all at once", "200 at a time"
	variant string
	limit   int // 0: all at once
}

// s2: many concurrent `aptq pkg add` of distinct packages to ONE (new,
// empty) release; the same number of concurrent changes against aptly.
func (b *bench) s2(ctx context.Context) ([]Row, []Ratio) {
	sz := b.sizes
	window := fmt.Sprintf("%d at a time", min(sz.s2Window, sz.s2N))
	modes := []s2mode{
		{"all", "all at once", fmt.Sprintf("%d concurrent pkg add, all at once", sz.s2N), 0},
		{"window", window, fmt.Sprintf("%d concurrent pkg add, %s", sz.s2N, window), sz.s2Window},
	}
	debs := map[string][]debFile{}
	for _, m := range modes {
		var err error
		debs[m.key], err = b.debSet(ctx, "s2-"+m.key, "bench-s2-"+m.key+"-%04d", max(sz.s2N, sz.aptlyS2N))
		if err != nil {
			return []Row{errorRow("S2", m.variant, "aptq", err)}, nil
		}
	}

	var rows []Row
	aptqRows := b.s2Aptq(ctx, modes, debs)
	rows = append(rows, aptqRows...)
	var ratios []Ratio
	for i, m := range modes {
		variant := fmt.Sprintf("%d concurrent changes, all at once", sz.aptlyS2N)
		if m.limit > 0 {
			variant = fmt.Sprintf("%d concurrent changes, %d at a time", sz.aptlyS2N, min(m.limit, sz.aptlyS2N))
		}
		if b.aptly == "" {
			rows = append(rows, skippedRow("S2", variant, b.aptlyMissing))
			continue
		}
		aptly := b.s2Aptly(ctx, m, variant, debs[m.key][:sz.aptlyS2N])
		rows = append(rows, aptly)
		// Wall time per published change: aptly may not publish them all
		// within its time budget, nor run as many changes.
		aptq := aptqRows[i]
		if aptq.Error == "" && aptly.Error == "" && aptq.Metrics["published"] > 0 && aptly.Metrics["published"] > 0 {
			perAptly := aptly.Metrics["wall_s"] * 1000 / aptly.Metrics["published"]
			perAptq := aptq.Metrics["wall_s"] * 1000 / aptq.Metrics["published"]
			if r, ok := ratio("S2", "wall time per published change, "+m.how, perAptly, perAptq, 0); ok {
				ratios = append(ratios, r)
			}
		}
	}
	return rows, ratios
}

func (b *bench) s2Aptq(ctx context.Context, modes []s2mode, debs map[string][]debFile) []Row {
	fail := func(err error) []Row {
		var rows []Row
		for _, m := range modes {
			rows = append(rows, errorRow("S2", m.variant, "aptq", err))
		}
		return rows
	}
	s, err := b.startSystem(ctx, "s2")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo = "s2"
	var releases []string
	for _, m := range modes {
		releases = append(releases, m.key)
	}
	key, err := s.repoWithKey(ctx, repo, releases...)
	if err != nil {
		return fail(err)
	}
	var rows []Row
	for _, m := range modes {
		n := b.sizes.s2N
		row := Row{Scenario: "S2", Variant: m.variant, System: "aptq"}
		b.logf("S2 aptq: %s", m.variant)
		meter := startCPUMeter(s.PID())
		run := s.concurrentAdds(ctx, n, m.limit, repo, key,
			func(int) string { return m.key }, func(i int) string { return debs[m.key][i].Path })
		failures, firstErr, cpu, wall := run.failures, run.firstErr, run.cpu, run.wall
		row.setDurations(run.durations)
		rs, err := s.rounds(ctx, []string{m.key})
		if err != nil {
			rows = append(rows, errorRow("S2", m.variant, "aptq", err))
			continue
		}
		published := 0
		if index, err := s.packages(ctx, repo, m.key); err == nil {
			published = countPackages(index, "bench-s2-"+m.key)
		} else {
			firstErr = cmpOr(firstErr, err)
		}
		b.logf("S2 aptq: %d published in %v, %d failures, %d rounds", published, wall.Round(time.Millisecond), failures, rs.Rounds)
		row.metric("wall_s", wall.Seconds())
		row.metric("failures", float64(failures))
		row.metric("published", float64(published))
		row.metric("rounds", float64(rs.Rounds))
		row.metric("changes_per_round", rs.perRound())
		row.metric("max_changes_per_round", float64(rs.MaxChanges))
		row.note("per CLI start→exit; wall %.1f s, %d/%d in Packages, %d failures", wall.Seconds(), published, n, failures)
		row.note("%d rounds, %.1f changes/round (max %d)", rs.Rounds, rs.perRound(), rs.MaxChanges)
		cliCPU := cpuNote(&row, cpu)
		row.note("CLI CPU %s median, %.1f s in all", formatMS(cliCPU.Median), sum(cpu).Seconds())
		meter.note(&row, wall)
		if firstErr != nil {
			row.note("first problem: %s", oneLine(firstErr.Error()))
		}
		if n >= 1000 {
			row.target("all published, 0 failures", published == n && failures == 0)
			row.target("wall ≤ 30 s", wall <= 30*time.Second)
			row.target("≤ 50 rounds", rs.Rounds <= 50)
		} else {
			row.note("targets are for 1000 publishes")
		}
		rows = append(rows, row)
	}
	return rows
}

func (b *bench) s2Aptly(ctx context.Context, m s2mode, variant string, debs []debFile) Row {
	row := Row{Scenario: "S2", Variant: variant, System: "aptly"}
	a, err := b.startAptly(ctx, "s2-"+m.key)
	if err != nil {
		return errorRow("S2", variant, "aptly", err)
	}
	defer a.Close()
	const repo = "s2"
	if err := a.seed(ctx, repo, nil); err != nil {
		return errorRow("S2", variant, "aptly", fmt.Errorf("publish the empty repo: %w", err))
	}
	budget := b.sizes.aptlyS2Budget
	b.logf("S2 aptly: %s (time budget %v)", variant, budget)
	runCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var mu sync.Mutex
	var failed failureCounter
	var ok []time.Duration
	changesFailed, unfinished := 0, 0
	start := time.Now()
	runConcurrently(len(debs), m.limit, func(i int) {
		if runCtx.Err() != nil {
			mu.Lock()
			unfinished++
			mu.Unlock()
			return
		}
		c := a.change(runCtx, repo, debs[i])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case c.Err == nil:
			ok = append(ok, c.Elapsed)
		case runCtx.Err() != nil:
			unfinished++
		default:
			changesFailed++
			failed.add(c.FailedAt, c.Err)
		}
	})
	wall := time.Since(start)
	row.setDurations(ok)
	published := 0
	if index, err := a.packagesIndex(); err == nil {
		published = countPackages(index, "bench-s2-"+m.key)
	}
	// Concurrent repo adds may also lose each other's packages, even when
	// they all answered 200: count what the repository holds.
	inRepo, err := a.repoCount(ctx, repo, "bench-s2-"+m.key)
	if err != nil {
		row.note("could not list the repository: %s", oneLine(err.Error()))
	}
	b.logf("S2 aptly: %d changes ok, %d failed, %d unfinished, %d in Packages, wall %v",
		len(ok), changesFailed, unfinished, published, wall.Round(time.Millisecond))
	row.metric("wall_s", wall.Seconds())
	row.metric("failures", float64(changesFailed+unfinished))
	row.metric("failed_requests", float64(failed.total()))
	row.metric("unfinished", float64(unfinished))
	row.metric("published", float64(published))
	row.note("per successful change (upload + repo add + publish update); wall %.1f s", wall.Seconds())
	row.metric("in_repo", float64(inRepo))
	row.note("%d/%d changes failed (%s), %d unfinished at the %v budget; %d/%d in Packages, %d/%d in the repo",
		changesFailed, len(debs), failed.String(), unfinished, budget, published, len(debs), inRepo, len(debs))
	for _, e := range failed.examples {
		row.note("e.g. %s", e)
		break
	}
	return row
}
