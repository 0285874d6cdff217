package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// s5: memory during a big upload. One `aptq pkg add` of a package with a
// large payload, start to published. aptqd: its resident-set high-water
// mark is reset (clear_refs 5) after a warm-up publish, then VmHWM after
// the publish is compared with VmRSS before it. The CLI: its peak RSS
// (VmHWM, sampled: see runCLI) against that of the warm-up publish of a
// 2 KiB package.
func (b *bench) s5(ctx context.Context) ([]Row, []Ratio) {
	size := b.sizes.s5Bytes
	variant := fmt.Sprintf("RSS during a %d MiB pkg add", size/mib)
	fail := func(err error) ([]Row, []Ratio) { return []Row{errorRow("S5", variant, "aptq", err)}, nil }
	s, err := b.startSystem(ctx, "s5")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo, rel = "s5", "stable"
	key, err := s.repoWithKey(ctx, repo, rel)
	if err != nil {
		return fail(err)
	}
	dir := filepath.Join(s.dir, "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	b.logf("S5: writing a %d MiB package", size/mib)
	opts := debOptions("bench-big", 0)
	opts.DataSize = size
	big, err := writeDeb(dir, opts)
	if err != nil {
		return fail(err)
	}
	defer os.Remove(big.Path)
	small, err := writeDeb(dir, debOptions("bench-small", 1))
	if err != nil {
		return fail(err)
	}

	warm, _ := s.pkgAddRSS(ctx, true, repo, rel, key, small.Path)
	if warm.Err != nil {
		return fail(warm.Err)
	}
	pid := s.PID()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fail(fmt.Errorf("reset aptqd's peak RSS: %w", err))
	}
	before, err := procStatus(pid, "VmRSS")
	if err != nil {
		return fail(err)
	}
	b.logf("S5: pkg add of %d MiB", size/mib)
	r, out := s.pkgAddRSS(ctx, true, repo, rel, key, big.Path)
	if r.Err != nil {
		return fail(r.Err)
	}
	peak, err := procStatus(pid, "VmHWM")
	if err != nil {
		return fail(err)
	}
	growth := peak - before
	cliGrowth := r.MaxRSS - warm.MaxRSS
	b.logf("S5: published generation %d in %v; aptqd %d → %d MiB, CLI %d MiB (warm-up %d MiB)", out.Generation,
		r.Elapsed.Round(time.Millisecond), before/mib, peak/mib, r.MaxRSS/mib, warm.MaxRSS/mib)

	row := Row{Scenario: "S5", Variant: variant, System: "aptq"}
	row.setDurations([]time.Duration{r.Elapsed})
	row.metric("upload_mib", float64(size/mib))
	row.metric("aptqd_rss_before_mib", float64(before)/mib)
	row.metric("aptqd_rss_peak_mib", float64(peak)/mib)
	row.metric("aptqd_rss_growth_mib", float64(growth)/mib)
	row.metric("cli_max_rss_mib", float64(r.MaxRSS)/mib)
	row.metric("cli_rss_growth_mib", float64(cliGrowth)/mib)
	row.note("CLI start→published, %.0f MiB/s", float64(size/mib)/r.Elapsed.Seconds())
	row.note("aptqd RSS %d → peak %d MiB (+%d MiB)", before/mib, peak/mib, growth/mib)
	row.note("CLI peak RSS %d MiB (+%d MiB over a 2 KiB publish)", r.MaxRSS/mib, cliGrowth/mib)
	row.target("aptqd ≤ +64 MiB", growth <= 64*mib)
	row.target("CLI ≤ +64 MiB", cliGrowth <= 64*mib)
	if size < 1<<30 {
		row.note("targets are for 1 GiB")
	}
	return []Row{row}, nil
}
