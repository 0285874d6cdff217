package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// s7: one `aptq pkg add` of many files (10 000 in the long variant, 2 500
// in the short one) into an empty release: start to exit 0, every file
// checked, uploaded (4 at a time, the default), split into changes of at
// most 1 000 and published. It reports the wall time, where it went, and
// how many rounds published the changes (their distinct generations).
func (b *bench) s7(ctx context.Context) ([]Row, []Ratio) {
	n := b.sizes.s7Files
	variant := fmt.Sprintf("one pkg add of %d files", n)
	fail := func(err error) ([]Row, []Ratio) { return []Row{errorRow("S7", variant, "aptq", err)}, nil }
	debs, err := b.debSet(ctx, fmt.Sprintf("s7-%d", n), "bench-bulk-%05d", n)
	if err != nil {
		return fail(err)
	}
	s, err := b.startSystem(ctx, "s7")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo, rel = "s7", "stable"
	key, err := s.repoWithKey(ctx, repo, rel)
	if err != nil {
		return fail(err)
	}
	b.logf("S7: pkg add of %d files", n)
	r, _ := s.pkgAddArgs(ctx, false, []string{"--repo", repo, "--release", rel, "--key", key, "--timeout", "25m"}, paths(debs)...)
	if r.Err != nil {
		return fail(r.Err)
	}
	var out struct {
		PublishedFiles int `json:"published_files"`
		Changes        []struct {
			Generation *int64 `json:"generation"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		return fail(fmt.Errorf("pkg add --json: %w", err))
	}
	if out.PublishedFiles != n {
		return fail(fmt.Errorf("published %d of %d files", out.PublishedFiles, n))
	}
	var gens []int64
	for _, c := range out.Changes {
		if c.Generation != nil && !slices.Contains(gens, *c.Generation) {
			gens = append(gens, *c.Generation)
		}
	}
	var bytes int64
	for _, d := range debs {
		bytes += d.Size
	}
	b.logf("S7: %d files (%d MiB) published in %v: %d changes, %d round(s)", n, bytes/mib,
		r.Elapsed.Round(time.Millisecond), len(out.Changes), len(gens))

	row := Row{Scenario: "S7", Variant: variant, System: "aptq"}
	row.setDurations([]time.Duration{r.Elapsed})
	row.metric("files", float64(n))
	row.metric("changes", float64(len(out.Changes)))
	row.metric("rounds", float64(len(gens)))
	row.metric("cli_cpu_s", r.CPU.Seconds())
	row.note("%d files, %.1f MiB: %.0f files/s start→published", n, float64(bytes)/mib, float64(n)/r.Elapsed.Seconds())
	row.note("%d changes of ≤ 1000 adds, published in %d round(s); CLI CPU %.1f s", len(out.Changes), len(gens), r.CPU.Seconds())
	row.target("≤ 3 rounds", len(gens) <= 3)
	return []Row{row}, nil
}
