package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the result table: one scenario (or one variant of
// it) run against one system.
type Row struct {
	Scenario string `json:"scenario"` // "S1", "S2", …
	Variant  string `json:"variant"`  // what exactly ran, e.g. "1 publish into 20000 pkgs"
	System   string `json:"system"`   // "aptq" or "aptly"
	N        int    `json:"n"`        // samples behind median/p95/max
	// Median, P95 and Max are in milliseconds; zero when Skipped or Error.
	Median float64 `json:"median_ms"`
	P95    float64 `json:"p95_ms"`
	Max    float64 `json:"max_ms"`
	// Metrics are the scenario's other figures (wall_s, failures, rounds,
	// changes_per_round, rounds_per_s, rss_growth_mib, …), keyed for --json.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Notes are the human-readable remarks printed in the table.
	Notes []string `json:"notes,omitempty"`
	// Targets are the targets this row is checked against.
	Targets []Target `json:"targets,omitempty"`
	Skipped string   `json:"skipped,omitempty"` // why the row did not run
	Error   string   `json:"error,omitempty"`   // why the row failed to run
}

// Target is one goal of the issue and whether this run met it.
type Target struct {
	Name string `json:"name"` // e.g. "p50 ≤ 250 ms"
	Met  bool   `json:"met"`
}

// Ratio compares aptly with aptq on one scenario.
type Ratio struct {
	Scenario string  `json:"scenario"`
	What     string  `json:"what"` // what is compared, e.g. "median per change"
	Aptly    float64 `json:"aptly"`
	Aptq     float64 `json:"aptq"`
	Ratio    float64 `json:"ratio"` // aptly / aptq; > 1 means aptq is faster
	Target   *Target `json:"target,omitempty"`
}

// Report is everything one run prints.
type Report struct {
	Date    time.Time `json:"date"`
	Variant string    `json:"variant"` // "short" or "long"
	Machine Machine   `json:"machine"`
	Rows    []Row     `json:"rows"`
	Ratios  []Ratio   `json:"ratios,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryGB int    `json:"memory_gib"`
	Kernel   string `json:"kernel"`
	// Load is the 1-minute load average when the run started and ended:
	// other work on the machine skews every figure.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
	Go        string  `json:"go"`
	Aptly     string  `json:"aptly,omitempty"`
}

// setDurations fills N, Median, P95 and Max from samples.
func (r *Row) setDurations(samples []time.Duration) {
	ms := make([]float64, len(samples))
	for i, d := range samples {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	r.N = len(ms)
	r.Median, r.P95, r.Max = percentile(ms, 50), percentile(ms, 95), percentile(ms, 100)
}

func (r *Row) metric(name string, v float64) {
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	r.Metrics[name] = v
}

func (r *Row) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Row) target(name string, met bool) {
	r.Targets = append(r.Targets, Target{Name: name, Met: met})
}

// percentile returns the p-th percentile (0 < p ≤ 100) of xs by the
// nearest-rank method, except that the median of an even number of samples
// is the mean of the two middle ones. It returns 0 for no samples.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if p == 50 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// formatMS prints milliseconds with a precision that suits their size.
func formatMS(ms float64) string {
	switch {
	case ms >= 10_000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.1f ms", ms)
	}
}

// WriteTable prints the report as an aligned table followed by the ratios.
func (rep Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "aptq-bench %s run, %s\n", rep.Variant, rep.Date.Format("2006-01-02 15:04 MST"))
	m := rep.Machine
	fmt.Fprintf(w, "machine: %s, %d cores, %d GiB, Linux %s, %s", m.CPU, m.Cores, m.MemoryGB, m.Kernel, m.Go)
	if m.Aptly != "" {
		fmt.Fprintf(w, ", aptly %s", m.Aptly)
	}
	fmt.Fprintf(w, "; load average %.1f at start, %.1f at end (with this run's own)\n", m.LoadStart, m.LoadEnd)
	if m.Cores > 0 && m.LoadStart > float64(m.Cores) {
		fmt.Fprintln(w, "note: the load average exceeded the core count at the start: other work shared the machine and slowed these figures")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tsystem\tn\tmedian\tp95\tmax\tnotes")
	for _, r := range rep.Rows {
		name := r.Scenario
		if r.Variant != "" {
			name += " " + r.Variant
		}
		var notes []string
		median, p95, maxv := "-", "-", "-"
		switch {
		case r.Skipped != "":
			notes = append(notes, r.Skipped)
		case r.Error != "":
			notes = append(notes, "ERROR: "+oneLine(r.Error))
		default:
			median, p95, maxv = formatMS(r.Median), formatMS(r.P95), formatMS(r.Max)
		}
		notes = append(notes, r.Notes...)
		for _, t := range r.Targets {
			notes = append(notes, targetString(t))
		}
		n := "-"
		if r.N > 0 {
			n = fmt.Sprint(r.N)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, r.System, n, median, p95, maxv, strings.Join(notes, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w)
	}
	for _, r := range rep.Ratios {
		line := fmt.Sprintf("aptly/aptq %s %s: %s / %s = %.1f×", r.Scenario, r.What, formatMS(r.Aptly), formatMS(r.Aptq), r.Ratio)
		if r.Target != nil {
			line += " (" + targetString(*r.Target) + ")"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

func targetString(t Target) string {
	if t.Met {
		return "target " + t.Name + ": met"
	}
	return "target " + t.Name + ": MISSED"
}

// WriteJSON prints the report as one indented JSON object.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// oneLine keeps an error short enough for a table cell.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// ratio compares a figure of aptly's with aptq's (lower is better, e.g.
// milliseconds per change); target, when positive, is the least ratio the
// issue asks for.
func ratio(scenario, what string, aptlyMS, aptqMS, target float64) (Ratio, bool) {
	if aptlyMS <= 0 || aptqMS <= 0 {
		return Ratio{}, false
	}
	r := Ratio{Scenario: scenario, What: what, Aptly: aptlyMS, Aptq: aptqMS, Ratio: aptlyMS / aptqMS}
	if target > 0 {
		r.Target = &Target{Name: fmt.Sprintf("≥ %.0f×", target), Met: r.Ratio >= target}
	}
	return r, true
}

// ran reports whether a row has samples to compare.
func (r Row) ran() bool { return r.N > 0 && r.Error == "" && r.Skipped == "" }

// metricName makes a --json metric key of words: "repo add" → "repo_add".
func metricName(s string) string { return strings.ReplaceAll(s, " ", "_") }

func joinComma(parts []string) string { return strings.Join(parts, ", ") }

// cpuNote records the CLIs' CPU times as metrics and returns their
// distribution: on a 2-core machine, 1000 CLIs' CPU bounds the wall time.
func cpuNote(r *Row, cpu []time.Duration) Row {
	var st Row
	st.setDurations(cpu)
	r.metric("cli_cpu_median_ms", st.Median)
	r.metric("cli_cpu_total_s", sum(cpu).Seconds())
	return st
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}
