package main

import (
	"context"
	"fmt"

	"github.com/aptq/aptq/apt/debtest"
)

// s1c: S1 with Contents indices. The same single publishes into a
// release of s1Base packages, each package holding 30 files, with
// Contents-amd64.gz on: aptq's release created with --contents (its round
// edits the Contents it keeps), aptly publishing without SkipContents (its
// Contents step walks the whole repository's file lists). The seed's
// publish is the full generation, reported beside the per-change times.
func (b *bench) s1c(ctx context.Context) ([]Row, []Ratio) {
	sz := b.sizes
	variant := fmt.Sprintf("1 publish into %d pkgs, with Contents", sz.s1Base)
	base, err := b.debSetWith(ctx, "c-base", "bench-cbase-%05d", sz.s1Base, contentsDebOptions)
	if err != nil {
		return []Row{errorRow("S1C", variant, "aptq", err)}, nil
	}
	fresh, err := b.debSetWith(ctx, "s1c", "bench-s1c-%03d", sz.s1Runs+1, contentsDebOptions)
	if err != nil {
		return []Row{errorRow("S1C", variant, "aptq", err)}, nil
	}
	rows := []Row{b.s1cAptq(ctx, variant, base, fresh)}
	if b.aptly == "" {
		return append(rows, skippedRow("S1C", variant, b.aptlyMissing)), nil
	}
	a, err := b.startAptly(ctx, "s1c")
	if err != nil {
		return append(rows, errorRow("S1C", variant, "aptly", err)), nil
	}
	defer a.Close()
	a.contents = true
	aptly := b.s1AptlySeries(ctx, a, "S1C", variant, base, fresh, "Packages + gz + Contents, signed")
	aptly.metric("full_generation_ms", float64(a.lastPublish.Milliseconds()))
	aptly.note("full generation (seed publish of %d packages): %s", len(base), formatMS(float64(a.lastPublish.Milliseconds())))
	rows = append(rows, aptly)
	var ratios []Ratio
	if aptly.ran() && rows[0].ran() {
		if r, ok := ratio("S1C", "median per change", aptly.Median, rows[0].Median, 10); ok {
			ratios = append(ratios, r)
		}
	}
	return rows, ratios
}

func (b *bench) s1cAptq(ctx context.Context, variant string, base, fresh []debFile) Row {
	s, err := b.startSystem(ctx, "s1c")
	if err != nil {
		return errorRow("S1C", variant, "aptq", err)
	}
	defer s.Close()
	const repo, rel = "s1c", "stable"
	key, err := s.repoWithKey(ctx, repo)
	if err != nil {
		return errorRow("S1C", variant, "aptq", err)
	}
	if _, err := s.mustCLI(ctx, "release", "create", "--repo", repo, "--release", rel,
		"--architectures", "amd64", "--compressions", "gz", "--contents"); err != nil {
		return errorRow("S1C", variant, "aptq", err)
	}
	b.logf("S1C aptq: seeding %d packages", len(base))
	if err := s.seed(ctx, repo, rel, key, base); err != nil {
		return errorRow("S1C", variant, "aptq", fmt.Errorf("seed: %w", err))
	}
	row := b.s1Series(ctx, s, repo, rel, key, variant, "gz + Contents", fresh, len(base), 150)
	row.Scenario = "S1C"
	row.metric("full_generation_ms", float64(s.lastSeedPublish.Milliseconds()))
	row.note("full generation (seed publish of %d packages, signed round): %s", len(base),
		formatMS(float64(s.lastSeedPublish.Milliseconds())))
	return row
}

// contentsDebOptions is debOptions with 30 files per package, spread over
// shared directories as a release's packages are.
func contentsDebOptions(name string, i int) debtest.Options {
	o := debOptions(name, i)
	o.Files = []string{"./usr/bin/" + name, "./usr/share/doc/" + name + "/copyright"}
	for j := range 28 {
		o.Files = append(o.Files, fmt.Sprintf("./usr/lib/x86_64-linux-gnu/%s/module%02d.so", name, j))
	}
	return o
}
