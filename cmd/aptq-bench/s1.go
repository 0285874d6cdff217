package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// s1: one publish into a big release. aptq: a release already holding the
// base packages (seeded with the Go client), then sequential single
// `aptq pkg add` CLI runs, each timed from process start to exit 0, after
// which InRelease must name the generation the CLI printed; first with gz
// indexes only, as aptly is driven, then in a second release with the
// default gz and xz, and again with --no-verify (--s1-no-verify: the cost
// of the signer's check is the difference). aptly: the same
// base packages published from a local repo, then sequential changes of
// upload + repo add + publish update.
func (b *bench) s1(ctx context.Context) ([]Row, []Ratio) {
	sz := b.sizes
	variant := fmt.Sprintf("1 publish into %d pkgs", sz.s1Base)
	base, err := b.debSet(ctx, "base", "bench-base-%05d", sz.s1Base)
	if err != nil {
		return []Row{errorRow("S1", variant, "aptq", err)}, nil
	}
	// One more than timed: the first publish of each system is a warm-up.
	fresh, err := b.debSet(ctx, "s1", "bench-s1-%03d", sz.s1Runs+1)
	if err != nil {
		return []Row{errorRow("S1", variant, "aptq", err)}, nil
	}

	rows := b.s1Aptq(ctx, variant, base, fresh)
	aptq := rows[0]
	var ratios []Ratio
	if b.aptly == "" {
		return append(rows, skippedRow("S1", variant, b.aptlyMissing)), nil
	}
	aptly := b.s1Aptly(ctx, variant, base, fresh)
	rows = append(rows, aptly)
	// The target: ≥ 10× faster than aptly's per-change cost.
	if aptly.ran() && aptq.ran() {
		if r, ok := ratio("S1", "median per change", aptly.Median, aptq.Median, 10); ok {
			ratios = append(ratios, r)
		}
	}
	if len(rows) > 2 && strings.HasSuffix(rows[1].Variant, "--no-verify") && aptly.ran() && rows[1].ran() {
		if r, ok := ratio("S1", "median per change, aptq --no-verify", aptly.Median, rows[1].Median, 10); ok {
			ratios = append(ratios, r)
		}
	}
	return rows, ratios
}

func (b *bench) s1Aptq(ctx context.Context, variant string, base, fresh []debFile) []Row {
	s, err := b.startSystem(ctx, "s1")
	if err != nil {
		return []Row{errorRow("S1", variant, "aptq", err)}
	}
	defer s.Close()
	const repo, rel, relXZ = "s1", "stable", "stable-xz"
	key, err := s.repoWithKey(ctx, repo, rel)
	if err != nil {
		return []Row{errorRow("S1", variant, "aptq", err)}
	}
	b.logf("S1 aptq: seeding %d packages", len(base))
	if err := s.seed(ctx, repo, rel, key, base); err != nil {
		return []Row{errorRow("S1", variant, "aptq", fmt.Errorf("seed: %w", err))}
	}
	rows := []Row{b.s1Series(ctx, s, repo, rel, key, variant, "gz only (no xz)", fresh, len(base), 150)}
	if b.s1NoVerify {
		// The gz-only publishes with the signer's check off too: what the
		// server's part of the publish costs, against aptly's.
		more, err := b.debSet(ctx, "s1nvgz", "bench-s1nvgz-%03d", len(fresh))
		if err != nil {
			return append(rows, errorRow("S1", variant+", --no-verify", "aptq", err))
		}
		rows = append(rows, b.s1Series(ctx, s, repo, rel, key, variant+", --no-verify",
			"gz only, aptq --no-verify (no check before signing)", more, len(base)+len(fresh), 150, "--no-verify"))
	}

	// The same packages again in a release with the default compressions,
	// which adds Packages.xz to every round.
	xzVariant := variant + ", gz+xz"
	if _, err := s.mustCLI(ctx, "release", "create", "--repo", repo, "--release", relXZ,
		"--architectures", "amd64", "--compressions", "gz,xz", "--contents=false"); err != nil {
		return append(rows, errorRow("S1", xzVariant, "aptq", err))
	}
	b.logf("S1 aptq: seeding %d packages into %s", len(base), relXZ)
	if err := s.seed(ctx, repo, relXZ, key, base); err != nil {
		return append(rows, errorRow("S1", xzVariant, "aptq", fmt.Errorf("seed: %w", err)))
	}
	verified := b.s1Series(ctx, s, repo, relXZ, key, xzVariant, "gz+xz (the release default)", fresh, len(base), 200)
	rows = append(rows, verified)
	if !b.s1NoVerify {
		return rows
	}
	// The same publishes with the signer's check off, into the same
	// release (now holding the fresh packages too), with new packages.
	nvVariant := xzVariant + ", --no-verify"
	more, err := b.debSet(ctx, "s1nv", "bench-s1nv-%03d", len(fresh))
	if err != nil {
		return append(rows, errorRow("S1", nvVariant, "aptq", err))
	}
	nv := b.s1Series(ctx, s, repo, relXZ, key, nvVariant, "gz+xz, aptq --no-verify (no check before signing)",
		more, len(base)+len(fresh), 200, "--no-verify")
	if verified.ran() && nv.ran() {
		nv.metric("verify_cost_median_ms", verified.Median-nv.Median)
		nv.note("the signer's check (the row above) costs %s at the median", formatMS(verified.Median-nv.Median))
	}
	return append(rows, nv)
}

// s1Series times one CLI publish of each fresh package into rel, which
// holds base packages already.
func (b *bench) s1Series(ctx context.Context, s *system, repo, rel, key, variant, compressions string, fresh []debFile, base int, targetMS float64, extra ...string) Row {
	row := Row{Scenario: "S1", Variant: variant, System: "aptq"}
	var samples []time.Duration
	phases := make([][]time.Duration, len(phaseNames))
	failures, mismatches := 0, 0
	var firstErr error
	var cliCPU, serverCPU, busyCPU []time.Duration
	var written, changed []float64
	var checks []time.Duration
	for i, d := range fresh {
		meter := startCPUMeter(s.PID())
		r, out := s.pkgAddArgs(ctx, false, append([]string{"--repo", repo, "--release", rel, "--key", key}, extra...), d.Path)
		aptqdCPU, busy, cpuOK := meter.since()
		if r.Err != nil {
			failures++
			firstErr = cmpOr(firstErr, r.Err)
			continue
		}
		if i > 0 && cpuOK {
			cliCPU, serverCPU, busyCPU = append(cliCPU, r.CPU), append(serverCPU, aptqdCPU), append(busyCPU, busy)
		}
		gen, err := s.generation(ctx, repo, rel)
		if err != nil || gen != out.Generation {
			mismatches++
			firstErr = cmpOr(firstErr, fmt.Errorf("InRelease after publish %d: generation %d, CLI printed %d (%v)",
				i, gen, out.Generation, err))
		}
		if i == 0 {
			b.logf("S1 aptq %s: warm-up publish %v", rel, r.Elapsed.Round(time.Millisecond))
			continue
		}
		samples = append(samples, r.Elapsed)
		if d, ok := checkTime(r.Stderr); ok {
			checks = append(checks, d)
		}
		if w, c, err := s.roundBytes(ctx, rel, out.Generation); err == nil {
			written, changed = append(written, float64(w)), append(changed, float64(c))
		} else {
			firstErr = cmpOr(firstErr, err)
		}
		ph, err := s.phases(ctx, rel, out.Generation, r.Start, r.End)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			b.logf("S1 aptq %s: publish %d/%d: %v (generation %d)", rel, i, len(fresh)-1, r.Elapsed.Round(time.Millisecond), out.Generation)
			continue
		}
		var parts []string
		for j, d := range ph {
			phases[j] = append(phases[j], d)
			parts = append(parts, d.Round(time.Millisecond).String())
		}
		b.logf("S1 aptq %s: publish %d/%d: %v (generation %d; phases %s)", rel, i, len(fresh)-1,
			r.Elapsed.Round(time.Millisecond), out.Generation, strings.Join(parts, " "))
	}
	row.setDurations(samples)
	// Every package must be in the final index, once.
	index, err := s.packages(ctx, repo, rel)
	if err == nil {
		row.metric("packages_mb", float64(len(index))/1e6)
		if got, want := countPackages(index, "bench-"), base+len(fresh)-failures; got != want {
			firstErr = cmpOr(firstErr, fmt.Errorf("final Packages lists %d bench packages, want %d", got, want))
		}
	}
	firstErr = cmpOr(firstErr, err)

	row.metric("base_packages", float64(base))
	row.metric("failures", float64(failures))
	row.metric("inrelease_mismatches", float64(mismatches))
	row.note("CLI start→exit 0, sequential, after 1 warm-up; amd64, %s, signed", compressions)
	row.note("%d failures, InRelease generation checked after each: %d mismatches", failures, mismatches)
	if len(phases[0]) > 0 {
		var parts []string
		for j, name := range phaseNames {
			var ph Row
			ph.setDurations(phases[j])
			row.metric("phase_"+metricName(name)+"_median_ms", ph.Median)
			parts = append(parts, fmt.Sprintf("%s %s", name, formatMS(ph.Median)))
		}
		row.note("median phases (server timestamps): %s", joinComma(parts))
	}
	if len(serverCPU) > 0 {
		var c, a, m Row
		c.setDurations(cliCPU)
		a.setDurations(serverCPU)
		m.setDurations(busyCPU)
		row.metric("cli_cpu_median_ms", c.Median)
		row.metric("aptqd_cpu_median_ms", a.Median)
		row.metric("machine_busy_median_ms", m.Median)
		row.note("CPU per publish (median): CLI %s, aptqd %s, whole machine %s (aptqd, Postgres, versitygw, CLI, anything else)",
			formatMS(c.Median), formatMS(a.Median), formatMS(m.Median))
	}
	if len(checks) > 0 {
		var c Row
		c.setDurations(checks)
		row.metric("cli_check_median_ms", c.Median)
		row.note("the CLI's check before signing (its own timing, median): %s", formatMS(c.Median))
	}
	row.note("Packages %.1f MB", row.Metrics["packages_mb"])
	bytesRatio := b.noteBytes(&row, written, changed)
	if firstErr != nil {
		row.note("first problem: %s", oneLine(firstErr.Error()))
	}
	row.target(fmt.Sprintf("p50 ≤ %.0f ms", targetMS), row.N > 0 && failures == 0 && mismatches == 0 && row.Median <= targetMS)
	row.target("S3 bytes ≤ 2.5 × changed compressed indexes", bytesRatio > 0 && bytesRatio <= 2.5)
	return row
}

// noteBytes reports the median bytes a round wrote to S3 against the
// median size of the index files it changed, and returns their ratio.
func (b *bench) noteBytes(row *Row, written, changed []float64) float64 {
	w, c := percentile(written, 50), percentile(changed, 50)
	if w == 0 || c == 0 {
		return 0
	}
	row.metric("s3_bytes_per_round_median", w)
	row.metric("changed_index_bytes_median", c)
	row.metric("s3_bytes_ratio", w/c)
	row.note("S3 writes per round (median): %.2f MB for %.2f MB of changed compressed indexes = %.2f×", w/1e6, c/1e6, w/c)
	return w / c
}

func (b *bench) s1Aptly(ctx context.Context, variant string, base, fresh []debFile) Row {
	a, err := b.startAptly(ctx, "s1")
	if err != nil {
		return errorRow("S1", variant, "aptly", err)
	}
	defer a.Close()
	return b.s1AptlySeries(ctx, a, "S1", variant, base, fresh, "Packages + gz, signed, no Contents")
}

// s1AptlySeries seeds aptly with base and times one change per fresh
// package; layout describes what it publishes.
func (b *bench) s1AptlySeries(ctx context.Context, a *aptlyServer, scenario, variant string, base, fresh []debFile, layout string) Row {
	row := Row{Scenario: scenario, Variant: variant, System: "aptly"}
	const repo = "s1"
	b.logf("%s aptly: seeding %d packages", scenario, len(base))
	if err := a.seed(ctx, repo, base); err != nil {
		return errorRow(scenario, variant, "aptly", fmt.Errorf("seed: %w", err))
	}
	var samples []time.Duration
	steps := map[string][]time.Duration{}
	var failed failureCounter
	missing := 0
	for i, d := range fresh {
		c := a.change(ctx, repo, d)
		if c.Err != nil {
			failed.add(c.FailedAt, c.Err)
			continue
		}
		if index, err := a.packagesIndex(); err != nil || countPackages(index, d.Name) != 1 {
			missing++
		}
		if i == 0 {
			b.logf("%s aptly: warm-up change %v", scenario, c.Elapsed.Round(time.Millisecond))
			continue
		}
		b.logf("%s aptly: change %d/%d: %v (%s %v, %s %v, %s %v)", scenario, i, len(fresh)-1, c.Elapsed.Round(time.Millisecond),
			stepUpload, c.Steps[stepUpload].Round(time.Millisecond), stepAdd, c.Steps[stepAdd].Round(time.Millisecond),
			stepPublish, c.Steps[stepPublish].Round(time.Millisecond))
		samples = append(samples, c.Elapsed)
		for k, v := range c.Steps {
			steps[k] = append(steps[k], v)
		}
	}
	row.aptlyFinish(samples, steps, len(base), &failed, missing, layout)
	return row
}

// aptlyFinish records a sequential aptly series: its durations, the median
// of each step, the failed requests and the packages missing after their
// change; layout describes what aptly published.
func (row *Row) aptlyFinish(samples []time.Duration, steps map[string][]time.Duration, base int, failed *failureCounter, missing int, layout string) {
	row.setDurations(samples)
	row.metric("base_packages", float64(base))
	row.metric("failed_requests", float64(failed.total()))
	row.note("upload + repo add + publish update, sequential, after 1 warm-up; %s", layout)
	row.aptlyStepMedians(steps)
	row.note("%s; %d packages missing from Packages after their change", failed.String(), missing)
}

// aptlyStepMedians records and notes the median of each step of aptly's
// publish (upload, repo add, publish update).
func (r *Row) aptlyStepMedians(steps map[string][]time.Duration) {
	var parts []string
	for _, step := range []string{stepUpload, stepAdd, stepPublish} {
		var st Row
		st.setDurations(steps[step])
		r.metric(metricName(step)+"_median_ms", st.Median)
		parts = append(parts, fmt.Sprintf("%s %s", step, formatMS(st.Median)))
	}
	r.note("medians: %s", joinComma(parts))
}
