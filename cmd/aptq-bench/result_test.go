package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, 0},
		{"one sample", []float64{7}, 95, 7},
		{"median of odd count", []float64{5, 1, 3}, 50, 3},
		{"median of even count is the mean of the middle two", []float64{4, 1, 3, 2}, 50, 2.5},
		{"p95 of 20 is the 19th", seq(20), 95, 19},
		{"p95 of 10 is the max", seq(10), 95, 10},
		{"p95 of 100", seq(100), 95, 95},
		{"max", []float64{3, 9, 1}, 100, 9},
	} {
		require.Equal(t, tc.want, percentile(tc.xs, tc.p), tc.name)
	}
}

func TestPercentileLeavesInputAlone(t *testing.T) {
	t.Parallel()
	xs := []float64{3, 1, 2}
	percentile(xs, 50)
	require.Equal(t, []float64{3, 1, 2}, xs)
}

func TestSetDurations(t *testing.T) {
	t.Parallel()
	var r Row
	r.setDurations([]time.Duration{300 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond})
	require.Equal(t, 3, r.N)
	require.InDelta(t, 200, r.Median, 1e-9)
	require.InDelta(t, 300, r.P95, 1e-9)
	require.InDelta(t, 300, r.Max, 1e-9)
}

func TestFormatMS(t *testing.T) {
	t.Parallel()
	for ms, want := range map[float64]string{
		12.34: "12.3 ms", 184.4: "184 ms", 2345: "2.35 s", 21_600: "21.6 s",
	} {
		require.Equal(t, want, formatMS(ms))
	}
}

func TestRatio(t *testing.T) {
	t.Parallel()
	r, ok := ratio("S1", "median per change", 2500, 200, 10)
	require.True(t, ok)
	require.InDelta(t, 12.5, r.Ratio, 1e-9)
	require.Equal(t, &Target{Name: "≥ 10×", Met: true}, r.Target)

	r, ok = ratio("S1", "median per change", 1000, 200, 10)
	require.True(t, ok)
	require.False(t, r.Target.Met)

	_, ok = ratio("S2", "wall", 0, 200, 0)
	require.False(t, ok, "no ratio without both figures")
}

func sampleReport() Report {
	ok := Row{Scenario: "S1", Variant: "1 publish into 20000 pkgs", System: "aptq"}
	ok.setDurations([]time.Duration{180 * time.Millisecond, 200 * time.Millisecond, 220 * time.Millisecond})
	ok.note("0 failures")
	ok.metric("failures", 0)
	ok.target("p50 ≤ 250 ms", true)
	return Report{
		Date:    time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC),
		Variant: "short",
		Machine: Machine{CPU: "Test CPU", Cores: 2, MemoryGB: 24, Kernel: "6.1", Go: "go1.26"},
		Rows: []Row{
			ok,
			skippedRow("S1", "1 publish into 20000 pkgs", "aptly not installed"),
			errorRow("S3", "50 releases", "aptq", bytesError("aptqd exited\nwith status 1")),
		},
		Ratios: []Ratio{{Scenario: "S1", What: "median per change", Aptly: 2500, Aptq: 200, Ratio: 12.5,
			Target: &Target{Name: "≥ 10×", Met: true}}},
	}
}

type bytesError string

func (e bytesError) Error() string { return string(e) }

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, sampleReport().WriteTable(&buf))
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Contains(t, lines[0], "short run, 2026-11-22 05:00 UTC")
	require.Contains(t, lines[1], "Test CPU, 2 cores, 24 GiB")
	require.Regexp(t, `^scenario\s+system\s+n\s+median\s+p95\s+max\s+notes$`, lines[3])
	require.Regexp(t, `^S1 1 publish into 20000 pkgs\s+aptq\s+3\s+200 ms\s+220 ms\s+220 ms\s+0 failures; target p50 ≤ 250 ms: met$`, lines[4])
	require.Regexp(t, `aptly\s+-\s+-\s+-\s+-\s+aptly not installed$`, lines[5])
	require.Contains(t, lines[6], "ERROR: aptqd exited with status 1", "errors fit on one line")
	require.Equal(t, "aptly/aptq S1 median per change: 2.50 s / 200 ms = 12.5× (target ≥ 10×: met)", lines[len(lines)-1])
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, sampleReport().WriteJSON(&buf))
	var got struct {
		Variant string
		Rows    []struct {
			Scenario string             `json:"scenario"`
			System   string             `json:"system"`
			N        int                `json:"n"`
			Median   float64            `json:"median_ms"`
			P95      float64            `json:"p95_ms"`
			Metrics  map[string]float64 `json:"metrics"`
			Skipped  string             `json:"skipped"`
			Error    string             `json:"error"`
		}
		Ratios []Ratio
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Equal(t, "short", got.Variant)
	require.Len(t, got.Rows, 3)
	require.Equal(t, 3, got.Rows[0].N)
	require.InDelta(t, 200, got.Rows[0].Median, 1e-9)
	require.Contains(t, got.Rows[0].Metrics, "failures")
	require.Equal(t, "aptly not installed", got.Rows[1].Skipped)
	require.NotEmpty(t, got.Rows[2].Error)
	require.InDelta(t, 12.5, got.Ratios[0].Ratio, 1e-9)
}

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := []byte(`goos: linux
BenchmarkFullGeneration100k-2     	       1	 769029708 ns/op	        92.73 Packages-MB	       154.9 base-RSS-MiB	       300.3 peak-RSS-MiB	202331384 B/op	    1002 allocs/op
BenchmarkFullGeneration100kXZ-2   	       1	6773515387 ns/op	        92.73 Packages-MB	       158.0 base-RSS-MiB	       376.4 peak-RSS-MiB	406591232 B/op	 9155758 allocs/op
BenchmarkFullGeneration100k-2     	       1	 782290783 ns/op	        92.73 Packages-MB	       153.4 base-RSS-MiB	       296.5 peak-RSS-MiB	202315896 B/op	     983 allocs/op
PASS
`)
	samples := parseBench(out, "BenchmarkFullGeneration100k")
	require.Len(t, samples, 2, "the XZ variant is another benchmark")
	require.InDelta(t, 769029708, samples[0]["ns/op"], 1e-3)
	require.InDelta(t, 300.3, samples[0]["peak-RSS-MiB"], 1e-9)
	require.InDelta(t, 153.4, samples[1]["base-RSS-MiB"], 1e-9)
	require.Len(t, parseBench(out, "BenchmarkFullGeneration100kXZ"), 1)
}

func TestParseOnly(t *testing.T) {
	t.Parallel()
	only, err := parseOnly("s1, S2")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"S1": true, "S2": true}, only)
	only, err = parseOnly("")
	require.NoError(t, err)
	require.Nil(t, only)
	only, err = parseOnly("s9")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"S9": true}, only)
	_, err = parseOnly("S99")
	require.ErrorContains(t, err, "S99")
}

func TestCountPackages(t *testing.T) {
	t.Parallel()
	index := []byte("Package: bench-s2-all-0001\nVersion: 1\n\nPackage: other\n\nPackage: bench-s2-all-0002\n")
	require.Equal(t, 2, countPackages(index, "bench-s2-all-"))
	require.Equal(t, 1, countPackages(index, "other"))
}

func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(n - i) // descending, so percentile has to sort
	}
	return xs
}

func TestSavedReportPrintsTheSameTable(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	var saved, want, got bytes.Buffer
	require.NoError(t, rep.WriteJSON(&saved))
	require.NoError(t, rep.WriteTable(&want))
	var back Report
	require.NoError(t, json.Unmarshal(saved.Bytes(), &back))
	require.NoError(t, back.WriteTable(&got))
	require.Equal(t, want.String(), got.String())
}
