package main

import (
	"context"
	"fmt"
	"time"
)

// s3: many releases of one repository, each receiving concurrent
// publishes; every CLI of every release starts at once.
func (b *bench) s3(ctx context.Context) ([]Row, []Ratio) {
	nRel, per := b.sizes.s3Releases, b.sizes.s3Per
	variant := fmt.Sprintf("%d releases × %d concurrent publishes", nRel, per)
	fail := func(err error) ([]Row, []Ratio) { return []Row{errorRow("S3", variant, "aptq", err)}, nil }
	total := nRel * per
	debs, err := b.debSet(ctx, "s3", "bench-s3-%04d", total)
	if err != nil {
		return fail(err)
	}
	releases := make([]string, nRel)
	for i := range releases {
		releases[i] = fmt.Sprintf("r%02d", i)
	}
	s, err := b.startSystem(ctx, "s3")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo = "s3"
	key, err := s.repoWithKey(ctx, repo, releases...)
	if err != nil {
		return fail(err)
	}

	b.logf("S3 aptq: %s", variant)
	meter := startCPUMeter(s.PID())
	// Publish i goes to release i % nRel, so that every release has its
	// publishes among the first to start.
	run := s.concurrentAdds(ctx, total, 0, repo, key,
		func(i int) string { return releases[i%nRel] }, func(i int) string { return debs[i].Path })
	failures, firstErr, cpu, wall, durations := run.failures, run.firstErr, run.cpu, run.wall, run.durations
	rs, err := s.rounds(ctx, releases)
	if err != nil {
		return fail(err)
	}
	published := 0
	for _, rel := range releases {
		index, err := s.packages(ctx, repo, rel)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		published += countPackages(index, "bench-s3-")
	}
	b.logf("S3 aptq: %d published in %v, %d failures, %d rounds", published, wall.Round(time.Millisecond), failures, rs.Rounds)

	row := Row{Scenario: "S3", Variant: variant, System: "aptq"}
	row.setDurations(durations)
	row.metric("wall_s", wall.Seconds())
	row.metric("failures", float64(failures))
	row.metric("published", float64(published))
	row.metric("rounds", float64(rs.Rounds))
	row.metric("rounds_per_s", float64(rs.Rounds)/wall.Seconds())
	row.metric("changes_per_round", rs.perRound())
	row.note("per CLI start→exit, all %d at once; wall %.1f s, %d/%d in Packages, %d failures",
		total, wall.Seconds(), published, total, failures)
	row.note("%d rounds, %.1f rounds/s, %.1f changes/round", rs.Rounds, float64(rs.Rounds)/wall.Seconds(), rs.perRound())
	cliCPU := cpuNote(&row, cpu)
	row.note("CLI CPU %s median, %.1f s in all", formatMS(cliCPU.Median), sum(cpu).Seconds())
	meter.note(&row, wall)
	if firstErr != nil {
		row.note("first problem: %s", oneLine(firstErr.Error()))
	}
	return []Row{row}, nil
}
