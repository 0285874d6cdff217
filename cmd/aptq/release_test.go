package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

func TestReleaseResign(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "release", "resign", "--repo", "acme", "--release", "stable", "--key", b.keyPath, "--json")
	require.Equal(t, exitOK, res.code, res.stderr)

	var out outcome
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.EqualValues(t, fakeJobID, *out.JobID)
	require.EqualValues(t, fakeGen, *out.Generation)
	require.Equal(t, client.JobPublished, out.State)
	require.Equal(t, []string{b.fingerprint}, out.SignedBy)
	require.Nil(t, out.Error)

	seen := b.api.snapshot()
	require.Equal(t, 1, seen.resigns)
	require.Empty(t, seen.changes, "a resign is no package change")
	require.Len(t, seen.signatures, 1)
}

func TestReleaseRollback(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "release", "rollback", "--repo", "acme", "--release", "stable",
		"--to-generation", "40", "--key", b.keyPath)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, "published generation 42: "+fakeRepoURL+"\n", res.stdout)
	require.Contains(t, res.stderr, "rolling acme/stable back to the packages of generation 40")
	require.Equal(t, []int64{40}, b.api.snapshot().rollbacks)
}

func TestReleaseRollbackRefused(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "release", "rollback", "--repo", "acme", "--release", "stable",
		"--to-generation", "99", "--key", b.keyPath, "--json")
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: invalid: not a committed generation (field=generation)")
	var out outcome
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Nil(t, out.JobID)
	require.Equal(t, "invalid", out.Error.Code)

	for _, gen := range []string{"0", "-3", "x"} {
		res = runCLI(t, b.env, "release", "rollback", "--repo", "acme", "--release", "stable",
			"--to-generation", gen, "--key", b.keyPath)
		require.Equal(t, exitUsage, res.code, gen)
	}
	res = runCLI(t, b.env, "release", "rollback", "--repo", "acme", "--release", "stable", "--key", b.keyPath)
	require.Equal(t, exitUsage, res.code, "--to-generation is required")
	require.Empty(t, b.api.snapshot().rollbacks)
}

func TestReleaseHistory(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "release", "history", "--repo", "acme", "--release", "stable")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "GENERATION")
	require.Regexp(t, `41\s+2025-02-01T10:00:00Z\s+2\s+3\s+0\s+not yet\s+AAAA, BBBB\s+ci \(token 3\), nightly \(token 4\)\s+ci \(token 3\)`, res.stdout)
	require.Regexp(t, `40\s+.*AAAA\s+-\s+-\n`, res.stdout, "no tokens recorded")

	res = runCLI(t, b.env, "release", "history", "--repo", "acme", "--release", "stable", "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var out struct {
		Generations []client.Generation `json:"generations"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Equal(t, fakeHistory, out.Generations)
}

func TestReleaseCreateValidFor(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "release", "create", "--repo", "acme", "--release", "weekly", "--valid-for", "7d")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Regexp(t, `valid for:\s+168h0m0s`, res.stdout)
	require.Equal(t, "168h0m0s", b.api.snapshot().created[0].ValidFor)

	res = runCLI(t, b.env, "release", "create", "--repo", "acme", "--release", "weekly", "--valid-for", "30m")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "at least 1h")
	require.Len(t, b.api.snapshot().created, 1)
}

func TestParseValidFor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"7d":    7 * 24 * time.Hour,
		"1d12h": 36 * time.Hour,
		"36h":   36 * time.Hour,
		"1.5d":  36 * time.Hour,
		"1h":    time.Hour,
		"90m":   90 * time.Minute,
	} {
		got, err := parseValidFor(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "d", "7", "7days", "59m", "-1d", "xd", "1d-30h"} {
		_, err := parseValidFor(in)
		require.Error(t, err, in)
	}
}
