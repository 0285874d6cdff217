package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aptq/aptq/apt/debtest"
)

// s6Components are the components of S6's release, and s6Archs its
// architectures; package i goes to component i%4 and architecture (i/4)%2,
// so every one of the 8 indexes holds an eighth of the packages.
var (
	s6Components = []string{"main", "contrib", "non-free", "non-free-firmware"}
	s6Archs      = []string{"amd64", "arm64"}
)

func s6Options(name string, i int) debtest.Options {
	return debOptionsArch(name, i, s6Archs[(i/len(s6Components))%len(s6Archs)])
}

// s6: one publish into a release of 100 000 packages (4 components,
// amd64 and arm64, gz and xz), seeded like S1's big release; the timed
// publishes add an amd64 package to main, so each round rewrites one of
// the 8 indexes. aptly beside it: 4 local repositories, one per component,
// published together for both architectures.
func (b *bench) s6(ctx context.Context) ([]Row, []Ratio) {
	sz := b.sizes
	variant := fmt.Sprintf("1 publish into %d pkgs, 4 comp × 2 arch", sz.s6Base)
	base, err := b.debSetWith(ctx, "s6-base", "bench-s6-%06d", sz.s6Base, s6Options)
	if err != nil {
		return []Row{errorRow("S6", variant, "aptq", err)}, nil
	}
	fresh, err := b.debSet(ctx, "s6-fresh", "bench-s6-fresh-%03d", sz.s6Runs+1)
	if err != nil {
		return []Row{errorRow("S6", variant, "aptq", err)}, nil
	}
	component := func(i int) string { return s6Components[i%len(s6Components)] }

	rows := b.s6Aptq(ctx, variant, base, fresh, component)
	aptq := rows[0]
	if b.aptly == "" {
		return append(rows, skippedRow("S6", variant, b.aptlyMissing)), nil
	}
	aptly := b.s6Aptly(ctx, variant, base, fresh, component)
	rows = append(rows, aptly)
	var ratios []Ratio
	if aptly.ran() && aptq.ran() {
		if r, ok := ratio("S6", "median per change", aptly.Median, aptq.Median, 15); ok {
			ratios = append(ratios, r)
		}
	}
	return rows, ratios
}

func (b *bench) s6Aptq(ctx context.Context, variant string, base, fresh []debFile, component func(int) string) []Row {
	row, s := b.s6AptqVerified(ctx, variant, base, fresh, component)
	if s == nil {
		return []Row{row.Row}
	}
	defer s.Close()
	rows := []Row{row.Row}
	if !b.s1NoVerify {
		return rows
	}
	// As S1: the same publishes with the signer's check off, new packages.
	nvVariant := variant + ", --no-verify"
	more, err := b.debSet(ctx, "s6nv", "bench-s6nv-%03d", len(fresh))
	if err != nil {
		return append(rows, errorRow("S6", nvVariant, "aptq", err))
	}
	nv := b.s1Series(ctx, s, "s6", "stable", row.keyFile, nvVariant, "gz+xz, aptq --no-verify (no check before signing)",
		more, row.inIndex+len(fresh), 400, "--no-verify")
	nv.Scenario = "S6"
	if row.ran() && nv.ran() {
		nv.note("the signer's check (the row above) costs %s at the median", formatMS(row.Median-nv.Median))
	}
	return append(rows, nv)
}

// s6Row is S6's first aptq row and what its second needs.
type s6Row struct {
	Row
	keyFile string
	inIndex int
}

// s6AptqVerified seeds S6's release and times the default publishes; it
// returns the system still running (nil after an error).
func (b *bench) s6AptqVerified(ctx context.Context, variant string, base, fresh []debFile, component func(int) string) (s6Row, *system) {
	fail := func(err error) (s6Row, *system) { return s6Row{Row: errorRow("S6", variant, "aptq", err)}, nil }
	s, err := b.startSystem(ctx, "s6")
	if err != nil {
		return fail(err)
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	const repo, rel = "s6", "stable"
	key, err := s.repoWithKey(ctx, repo)
	if err != nil {
		return fail(err)
	}
	if _, err := s.mustCLI(ctx, "release", "create", "--repo", repo, "--release", rel,
		"--components", "main,contrib,non-free,non-free-firmware", "--architectures", "amd64,arm64",
		"--compressions", "gz,xz", "--contents=false"); err != nil {
		return fail(err)
	}
	b.logf("S6 aptq: seeding %d packages", len(base))
	start := time.Now()
	if err := s.seedComponents(ctx, repo, rel, key, base, component); err != nil {
		return fail(fmt.Errorf("seed: %w", err))
	}
	b.logf("S6 aptq: seeded in %v", time.Since(start).Round(time.Second))
	// The timed publishes go to main/binary-amd64, whose final index the
	// series checks: it holds an eighth of the base.
	inIndex := 0
	for i := range base {
		if component(i) == "main" && s6Options("", i).Architecture == "amd64" {
			inIndex++
		}
	}
	row := b.s1Series(ctx, s, repo, rel, key, variant, "gz+xz, 4 components × amd64+arm64", fresh, inIndex, 400)
	row.Scenario = "S6"
	row.metric("base_packages", float64(len(base)))
	row.note("main/binary-amd64 holds %d of the %d packages", inIndex+len(fresh), len(base)+len(fresh))
	ok = true
	return s6Row{Row: row, keyFile: key, inIndex: inIndex}, s
}

func (b *bench) s6Aptly(ctx context.Context, variant string, base, fresh []debFile, component func(int) string) Row {
	row := Row{Scenario: "S6", Variant: variant, System: "aptly"}
	a, err := b.startAptly(ctx, "s6")
	if err != nil {
		return errorRow("S6", variant, "aptly", err)
	}
	defer a.Close()
	b.logf("S6 aptly: seeding %d packages", len(base))
	start := time.Now()
	var sources []map[string]string
	for _, comp := range s6Components {
		repo := "s6-" + comp
		if err := a.createRepo(ctx, repo); err != nil {
			return errorRow("S6", variant, "aptly", err)
		}
		var files []string
		for i, d := range base {
			if component(i) == comp {
				files = append(files, d.Path)
			}
		}
		dir := "seed-" + comp
		for lo := 0; lo < len(files); lo += 500 {
			if err := a.upload(ctx, dir, files[lo:min(lo+500, len(files))]); err != nil {
				return errorRow("S6", variant, "aptly", err)
			}
		}
		if err := a.addDir(ctx, repo, dir); err != nil {
			return errorRow("S6", variant, "aptly", err)
		}
		sources = append(sources, map[string]string{"Name": repo, "Component": comp})
	}
	if err := a.callJSON(ctx, http.MethodPost, "/api/publish/"+aptlyPrefix, map[string]any{
		"SourceKind": "local", "Sources": sources, "Distribution": aptlyDist, "Architectures": s6Archs,
		"Signing": a.signing(), "SkipContents": true, "SkipBz2": true,
	}, nil); err != nil {
		return errorRow("S6", variant, "aptly", fmt.Errorf("publish: %w", err))
	}
	b.logf("S6 aptly: seeded and published in %v", time.Since(start).Round(time.Second))

	var samples []time.Duration
	steps := map[string][]time.Duration{}
	var failed failureCounter
	missing := 0
	for i, d := range fresh {
		c := a.change(ctx, "s6-main", d)
		if c.Err != nil {
			failed.add(c.FailedAt, c.Err)
			continue
		}
		if index, err := os.ReadFile(filepath.Join(a.root, "public", aptlyPrefix, "dists", aptlyDist, "main", "binary-amd64", "Packages")); err != nil || countPackages(index, d.Name) != 1 {
			missing++
		}
		if i == 0 {
			continue
		}
		b.logf("S6 aptly: change %d/%d: %v", i, len(fresh)-1, c.Elapsed.Round(time.Millisecond))
		samples = append(samples, c.Elapsed)
		for k, v := range c.Steps {
			steps[k] = append(steps[k], v)
		}
	}
	row.aptlyFinish(samples, steps, len(base), &failed, missing,
		"4 local repos as components, amd64+arm64, Packages + gz (aptly writes no xz), signed, no Contents")
	return row
}
