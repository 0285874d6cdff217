package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// s8: `aptq import` of a repository of S1's base set (20 000 packages in
// the long run) that apt-ftparchive indexed, signed Release and InRelease,
// served over loopback HTTP: the wall time of the command, MB/s and
// packages/s, and the time of a rerun, which finds everything published.
func (b *bench) s8(ctx context.Context) ([]Row, []Ratio) {
	n := b.sizes.s1Base
	variant := fmt.Sprintf("import of %d pkgs over HTTP", n)
	fail := func(err error) ([]Row, []Ratio) { return []Row{errorRow("S8", variant, "aptq", err)}, nil }
	debs, err := b.debSet(ctx, "base", "bench-base-%05d", n)
	if err != nil {
		return fail(err)
	}
	s, err := b.startSystem(ctx, "s8")
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	const repo, rel = "s8", "stable"
	key, err := s.repoWithKey(ctx, repo, rel)
	if err != nil {
		return fail(err)
	}
	b.logf("S8: indexing %d packages with apt-ftparchive", n)
	root, keyring, err := ftparchiveSource(ctx, filepath.Join(s.dir, "source"), debs)
	if err != nil {
		return fail(err)
	}
	src := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer src.Close()
	var total int64
	for _, d := range debs {
		total += d.Size
	}

	args := []string{"import", "--repo", repo, "--release", rel, "--from", src.URL, "--dist", rel,
		"--keyring", keyring, "--key", key, "--timeout", "2h"}
	b.logf("S8: aptq import of %d packages (%.1f MB)", n, float64(total)/1e6)
	// An import that fails part-way is rerun, as a user would, up to
	// s8Runs times: the figures then cover every run, and the row says why.
	r := s.cli(ctx, args...)
	var failures []string
	for run := 2; r.Err != nil; run++ {
		failures = append(failures, lastLine(r.Err.Error()))
		if run > s8Runs {
			return fail(fmt.Errorf("import failed %d times, last: %w", s8Runs, r.Err))
		}
		b.logf("S8: import failed after %v, rerunning: %v", r.Elapsed.Round(time.Millisecond), r.Err)
		resumed := s.cli(ctx, args...)
		resumed.Elapsed += r.Elapsed
		resumed.CPU += r.CPU
		r = resumed
	}
	published, err := client.New(s.URL, s.Token).ListReleasePackages(ctx, repo, rel, client.PackageFilter{})
	if err != nil {
		return fail(err)
	}
	if len(published) != n {
		return fail(fmt.Errorf("import published %d of %d packages", len(published), n))
	}
	again := s.cli(ctx, args...)
	if again.Err != nil {
		return fail(fmt.Errorf("rerun: %w", again.Err))
	}
	secs := r.Elapsed.Seconds()
	b.logf("S8: imported in %v (%.2f MB/s, %.0f packages/s); rerun %v", r.Elapsed.Round(time.Millisecond),
		float64(total)/1e6/secs, float64(n)/secs, again.Elapsed.Round(time.Millisecond))

	row := Row{Scenario: "S8", Variant: variant, System: "aptq"}
	row.setDurations([]time.Duration{r.Elapsed})
	row.metric("wall_s", secs)
	row.metric("mb", float64(total)/1e6)
	row.metric("mb_per_s", float64(total)/1e6/secs)
	row.metric("packages_per_s", float64(n)/secs)
	row.metric("rerun_s", again.Elapsed.Seconds())
	row.metric("cli_cpu_s", r.CPU.Seconds())
	row.note("%.1f MB, %.2f MB/s, %.0f packages/s (default --parallel); a rerun (all published) takes %s",
		float64(total)/1e6, float64(total)/1e6/secs, float64(n)/secs, formatMS(float64(again.Elapsed)/float64(time.Millisecond)))
	row.metric("import_runs", float64(len(failures)+1))
	for i, f := range failures {
		row.note("run %d of %d failed, the next continued it (all timed): %s", i+1, len(failures)+1, f)
	}
	return []Row{row}, nil
}

// s8Runs is how many times S8 runs an import that fails part-way.
const s8Runs = 3

// ftparchiveSource lays the debs out as a repository under dir (pool/main,
// hard links to the cached set), indexes it with apt-ftparchive (Packages
// and .xz), signs the Release with a new key (InRelease and Release.gpg)
// and returns the root and the key's armored public half's file.
func ftparchiveSource(ctx context.Context, dir string, debs []debFile) (root, keyring string, err error) {
	pool := filepath.Join(dir, "pool", "main")
	index := filepath.Join(dir, "dists", "stable", "main", "binary-amd64")
	for _, d := range []string{pool, index} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
	}
	for _, d := range debs {
		dst := filepath.Join(pool, filepath.Base(d.Path))
		if err := os.Link(d.Path, dst); err != nil {
			data, rerr := os.ReadFile(d.Path)
			if rerr != nil {
				return "", "", rerr
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				return "", "", err
			}
		}
	}
	// run runs a tool in dir and returns its standard output.
	run := func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", name, err, stderr.Bytes())
		}
		return stdout.Bytes(), nil
	}
	packages := filepath.Join(index, "Packages")
	plain, err := run("apt-ftparchive", "packages", "pool")
	if err == nil {
		err = os.WriteFile(packages, plain, 0o644)
	}
	if err == nil {
		_, err = run("xz", "-kf", packages)
	}
	if err != nil {
		return "", "", err
	}
	text, err := run("apt-ftparchive", "-o", "APT::FTPArchive::Release::Codename=stable",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64",
		"release", "dists/stable")
	if err != nil {
		return "", "", err
	}
	priv, pub, err := sign.GenerateKey("aptq bench source", "bench@example.invalid")
	if err != nil {
		return "", "", err
	}
	signer, err := sign.ParsePrivateKey(priv, nil)
	if err != nil {
		return "", "", err
	}
	inRelease, releaseGPG, err := sign.Sign(text, signer)
	if err != nil {
		return "", "", err
	}
	keyring = filepath.Join(dir, "source.pub.asc")
	for name, data := range map[string][]byte{
		filepath.Join(dir, "dists", "stable", "Release"):     text,
		filepath.Join(dir, "dists", "stable", "InRelease"):   inRelease,
		filepath.Join(dir, "dists", "stable", "Release.gpg"): releaseGPG,
		keyring: pub,
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return "", "", err
		}
	}
	return dir, keyring, nil
}
