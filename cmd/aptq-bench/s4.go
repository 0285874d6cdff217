package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// s4: full index generation for 100 000 packages, measured by apt's own
// benchmarks (apt/bench_test.go) run with `go test -bench` in a child
// process: BenchmarkFullGeneration100k (Packages + Packages.gz + Release
// for 4 components × 2 architectures) and BenchmarkFullGeneration100kXZ
// (also Packages.xz). Each -count is one sample of one generation
// (-benchtime 1x); the benchmark reports the resident set before the timed
// loop (mostly the 100 000 synthetic packages) and its high-water mark.
func (b *bench) s4(ctx context.Context) ([]Row, []Ratio) {
	var rows []Row
	for _, v := range []struct {
		bench, variant string
		count          int
		target         bool
	}{
		{"BenchmarkFullGeneration100k", "index of 100000 pkgs: Packages + gz + Release", b.sizes.s4Count, true},
		{"BenchmarkFullGeneration100kXZ", "index of 100000 pkgs: Packages + gz + xz + Release", b.sizes.s4XZ, false},
	} {
		b.logf("S4: go test -bench %s -count %d", v.bench, v.count)
		samples, err := b.goBench(ctx, v.bench, v.count)
		if err != nil {
			rows = append(rows, errorRow("S4", v.variant, "aptq", err))
			continue
		}
		row := Row{Scenario: "S4", Variant: v.variant, System: "aptq"}
		var durations []time.Duration
		var peak, base, packagesMB float64
		for _, s := range samples {
			durations = append(durations, time.Duration(s["ns/op"]))
			peak = max(peak, s["peak-RSS-MiB"])
			base = max(base, s["base-RSS-MiB"])
			packagesMB = s["Packages-MB"]
		}
		row.setDurations(durations)
		row.metric("peak_rss_mib", peak)
		row.metric("base_rss_mib", base)
		row.metric("packages_mb", packagesMB)
		row.note("apt's %s, 4 components × 2 archs, %.0f MB of Packages", v.bench, packagesMB)
		row.note("peak RSS %.0f MiB, of which %.0f MiB resident before (the input packages): +%.0f MiB", peak, base, peak-base)
		if v.target {
			row.target("≤ 1 s", row.Median <= 1000)
			row.target("≤ 256 MiB (peak − input)", peak > 0 && peak-base <= 256)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// goBench runs one benchmark of ./apt count times and returns each
// sample's metrics by unit (ns/op, peak-RSS-MiB, …).
func (b *bench) goBench(ctx context.Context, name string, count int) ([]map[string]float64, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^"+name+"$", "-benchtime", "1x",
		"-count", strconv.Itoa(count), "-benchmem", "./apt/")
	cmd.Dir, cmd.Env = b.root, b.environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w\n%s", name, err, out)
	}
	samples := parseBench(out, name)
	if len(samples) == 0 {
		return nil, fmt.Errorf("no %s result in:\n%s", name, out)
	}
	return samples, nil
}

// parseBench reads the result lines of one benchmark from `go test -bench`
// output: "Name-2  1  769029708 ns/op  92.73 Packages-MB  …".
func parseBench(out []byte, name string) []map[string]float64 {
	var samples []map[string]float64
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		if _, ok := m["ns/op"]; ok {
			samples = append(samples, m)
		}
	}
	return samples
}
