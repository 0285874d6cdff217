package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aptq/aptq/client"
)

// s9: a snapshot promotion. A release "staging" holding the S1 base
// packages (seeded with the Go client) is copied whole into "stable", which
// holds one of them already, with one `aptq pkg copy --all` run, timed from
// process start to exit 0: one change of every package, one round, one
// generation. It then reads the round's view (GET /v1/rounds/{id}, which
// the CLI read whole to check the round before signing) to report its size
// and how long the server takes to build it.
func (b *bench) s9(ctx context.Context) ([]Row, []Ratio) {
	n := b.sizes.s9N
	variant := fmt.Sprintf("pkg copy --all of %d pkgs", n)
	fail := func(err error) ([]Row, []Ratio) { return []Row{errorRow("S9", variant, "aptq", err)}, nil }
	debs, err := b.debSet(ctx, "base", "bench-base-%05d", n)
	if err != nil {
		return fail(err)
	}
	s, err := b.startSystem(ctx, "s9")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo = "s9"
	key, err := s.repoWithKey(ctx, repo, "staging", "stable")
	if err != nil {
		return fail(err)
	}
	b.logf("S9 aptq: seeding %d packages into staging", n)
	if err := s.seed(ctx, repo, "staging", key, debs); err != nil {
		return fail(fmt.Errorf("seed: %w", err))
	}
	copyArgs := []string{"pkg", "copy", "--repo", repo, "--from", "staging", "--release", "stable", "--key", key}
	if _, err := s.mustCLI(ctx, append(copyArgs, debs[0].Name)...); err != nil {
		return fail(err)
	}
	before, err := s.rounds(ctx, []string{"stable"})
	if err != nil {
		return fail(err)
	}

	b.logf("S9 aptq: %s", variant)
	meter := startCPUMeter(s.PID())
	r := s.runCLI(ctx, true, append(copyArgs, "--all")...)
	if r.Err != nil {
		return fail(r.Err)
	}
	wall := r.Elapsed
	row := Row{Scenario: "S9", Variant: variant, System: "aptq"}
	row.setDurations([]time.Duration{wall})
	var problems []string
	after, err := s.rounds(ctx, []string{"stable"})
	if err != nil {
		return fail(err)
	}
	rounds := after.Rounds - before.Rounds
	gen, err := s.generation(ctx, repo, "stable")
	if err != nil {
		return fail(err)
	}
	index, err := s.packages(ctx, repo, "stable")
	if err != nil {
		return fail(err)
	}
	if got := countPackages(index, "bench-"); got != n {
		problems = append(problems, fmt.Sprintf("stable's Packages lists %d packages, want %d", got, n))
	}
	if rounds != 1 || after.MaxChanges != 1 {
		problems = append(problems, fmt.Sprintf("%d rounds (largest with %d changes), want 1 of 1", rounds, after.MaxChanges))
	}
	view, err := s.roundView(ctx, repo, "stable", gen)
	if err != nil {
		return fail(err)
	}
	b.logf("S9 aptq: generation %d in %v; %d round(s); round view %.1f MB in %v", gen, wall.Round(time.Millisecond),
		rounds, float64(view.bytes)/1e6, view.took.Round(time.Millisecond))

	row.metric("wall_s", wall.Seconds())
	row.metric("packages", float64(n))
	row.metric("rounds", float64(rounds))
	row.metric("round_view_mb", float64(view.bytes)/1e6)
	row.metric("round_view_ms", float64(view.took.Milliseconds()))
	row.metric("cli_max_rss_mib", float64(r.MaxRSS)/mib)
	row.metric("cli_cpu_ms", float64(r.CPU.Milliseconds()))
	row.metric("cli_stderr_lines", float64(strings.Count(r.Stderr, "\n")))
	row.note("one CLI, start→exit 0: %d packages (%d new), %d round(s), generation %d", n, n-1, rounds, gen)
	row.note("round view (GET /v1/rounds/{id}) %.1f MB, %.0f bytes per package, served in %s",
		float64(view.bytes)/1e6, float64(view.bytes)/float64(n), formatMS(float64(view.took.Milliseconds())))
	if ph, err := s.phases(ctx, "stable", gen, r.Start, r.End); err == nil {
		var parts []string
		for j, name := range phaseNames {
			row.metric("phase_"+metricName(name)+"_ms", float64(ph[j].Milliseconds()))
			parts = append(parts, fmt.Sprintf("%s %s", name, formatMS(float64(ph[j].Milliseconds()))))
		}
		row.note("phases (server timestamps): %s", joinComma(parts))
	} else {
		problems = append(problems, err.Error())
	}
	if d, ok := checkTime(r.Stderr); ok {
		row.metric("check_ms", float64(d.Milliseconds()))
		row.note("the CLI's check of the round before signing: %s", formatMS(float64(d.Milliseconds())))
	}
	row.note("CLI peak RSS %d MiB, CPU %s; %d lines on stderr", r.MaxRSS/mib, formatMS(float64(r.CPU.Milliseconds())),
		strings.Count(r.Stderr, "\n"))
	meter.note(&row, wall)
	row.target("one round", rounds == 1)
	row.target("every package in stable", len(problems) == 0)
	if len(problems) > 0 {
		row.note("problems: %s", strings.Join(problems, "; "))
	}
	return []Row{row}, nil
}

// roundViewSize is what GET /v1/rounds/{id} answered.
type roundViewSize struct {
	bytes int64
	took  time.Duration
}

// roundView reads the view of the round that made generation of release,
// as a signer does, and measures it.
func (s *system) roundView(ctx context.Context, repo, release string, generation int64) (roundViewSize, error) {
	gens, err := client.New(s.URL, s.Token).History(ctx, repo, release, 1)
	if err != nil {
		return roundViewSize{}, err
	}
	if len(gens) == 0 || gens[0].Generation != generation {
		return roundViewSize{}, fmt.Errorf("generation %d is not the latest of %s/%s", generation, repo, release)
	}
	id := gens[0].RoundID
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/rounds/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return roundViewSize{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return roundViewSize{}, err
	}
	defer resp.Body.Close()
	size, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return roundViewSize{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return roundViewSize{}, fmt.Errorf("GET /v1/rounds/%d: %s", id, resp.Status)
	}
	return roundViewSize{bytes: size, took: time.Since(start)}, nil
}
