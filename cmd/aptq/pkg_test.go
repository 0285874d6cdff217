package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// pkgBundle is a fake API and the environment of a CI job that publishes to it.
type pkgBundle struct {
	api         *fakeAPI
	env         map[string]string
	dir         string
	keyPath     string
	fingerprint string // of the key at keyPath, the one registered
}

func setupPkg(t *testing.T, mode string) pkgBundle {
	t.Helper()
	privPath, _, public := keyFiles(t)
	pk, err := sign.ParsePublicKey(public)
	require.NoError(t, err)
	api, srv := newFakeAPI(t, mode, public)
	return pkgBundle{
		api:         api,
		env:         map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": fakeToken, "APTQ_NO_VERIFY": "1"},
		dir:         t.TempDir(),
		keyPath:     privPath,
		fingerprint: pk.Fingerprint,
	}
}

// deb writes a small real .deb of the package named by the file name (up
// to "_" or ".deb"), whose description is content, and returns its path and
// SHA-256. The CLI reads its control file before uploading it.
func (b pkgBundle) deb(t *testing.T, name, content string) (string, string) {
	t.Helper()
	pkg, _, _ := strings.Cut(strings.TrimSuffix(name, ".deb"), "_")
	data := debtest.Build(t, debtest.Options{Package: pkg, Architecture: "amd64", Description: content})
	path := filepath.Join(b.dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	sum := sha256.Sum256(data)
	return path, hex.EncodeToString(sum[:])
}

func TestPkgAddPublishes(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, helloSum := b.deb(t, "hello_1.0_amd64.deb", "hello deb")
	world, worldSum := b.deb(t, "world_1.0_amd64.deb", "world deb")
	b.api.packages[worldSum] = true // uploaded by an earlier run

	// The key comes from the environment, armored, as CI secrets usually are.
	private, err := os.ReadFile(b.keyPath)
	require.NoError(t, err)
	b.env["APTQ_SIGNING_KEY"] = string(private)
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--json", hello, world)
	require.Equal(t, exitOK, res.code, res.stderr)

	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	file := func(path, sum, name string) map[string]any {
		return map[string]any{"file": path, "sha256": sum, "package": name, "version": "1.0-1", "architecture": "amd64",
			"component": "main", "published": true, "job_id": float64(fakeJobID), "generation": float64(fakeGen), "error": nil}
	}
	require.Equal(t, map[string]any{
		"job_id": float64(fakeJobID), "change_id": float64(fakeJobID), "state": "published",
		"generation": float64(fakeGen), "url": fakeRepoURL, "error": nil, "signed_by": []any{b.fingerprint},
		"published_files": float64(2), "unpublished_files": float64(0),
		"changes": []any{map[string]any{"change_id": float64(fakeJobID), "job_id": float64(fakeJobID), "state": "published",
			"generation": float64(fakeGen), "files": float64(2), "error": nil}},
		"files": []any{file(hello, helloSum, "hello"), file(world, worldSum, "world")},
	}, out)

	seen := b.api.snapshot()
	require.Equal(t, []string{helloSum}, seen.uploaded, "only the missing package is uploaded")
	require.Equal(t, []client.ChangeRequest{{Adds: []client.Add{
		{SHA256: helloSum, Component: "main"}, {SHA256: worldSum, Component: "main"},
	}}}, seen.changes, "one change holds every file")
	require.Len(t, seen.signatures, 1, "the fake verified it with sign.Verify")
	require.EqualValues(t, fakeGen, seen.signatures[0].Generation)

	require.Empty(t, seen.polls[0].Get("state"), "the first poll answers at once")
	for _, q := range seen.polls[1:] {
		require.Equal(t, "30s", q.Get("wait"))
		require.NotEmpty(t, q.Get("state"), "later polls pass the last state seen")
	}
	require.Equal(t, "queued", seen.polls[1].Get("state"))
}

func TestPkgAddHumanOutput(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, "published generation 42: "+fakeRepoURL+"\n", res.stdout)
	// Not a terminal: the live status is one plain line per state. The
	// fake moves the job on at each poll, and the CLI also polls while it
	// signs (to stay present), so the states between the signature and
	// the end may be seen there and not printed: each may be missing, but
	// none is out of order.
	lines := strings.SplitAfter(res.stderr, "\n")
	require.Equal(t, []string{"uploading hello.deb (702 B)… done: hello 1.0 amd64\n",
		"change 17 accepted: job 17\n",
		"job 17: queued\n",
		"job 17: round 9 cut (generation 42), awaiting a signature\n",
		"job 17: round 9 (generation 42): signing with " + b.fingerprint[24:] + "\n",
		"signed round 9 (generation 42) with " + b.fingerprint + "; accepted: " + b.fingerprint + "\n"},
		lines[:min(6, len(lines))], res.stderr)
	require.Equal(t, []string{"job 17: published generation 42\n", ""}, lines[len(lines)-2:], res.stderr)
	between := []string{"job 17: signed, committing generation 42\n", "job 17: committed generation 42, uploading\n"}
	for _, l := range lines[6 : len(lines)-2] {
		i := slices.Index(between, l)
		require.GreaterOrEqual(t, i, 0, "unexpected or repeated line %q in\n%s", l, res.stderr)
		between = between[i+1:]
	}
}

func TestPkgAddRoundSignedByAnotherClient(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, signedByPeer)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stderr, "round 9 was signed by another client")
	require.Contains(t, res.stdout, "published generation 42")
}

func TestPkgAddJobFails(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, fails)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, "--json", hello)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: signature_timeout: job 17 failed: no signature within 120s")

	var out outcome
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.EqualValues(t, fakeJobID, *out.JobID)
	require.Equal(t, client.JobFailed, out.State)
	require.Equal(t, "signature_timeout", out.Error.Code)
}

func TestPkgAddUnauthorized(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	b.env["APTQ_TOKEN"] = "revoked"
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello)
	require.Equal(t, exitAuth, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: unauthorized: unknown token")
}

func TestPkgAddTimesOut(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, neverEnds)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath,
		"--timeout", "2s", "--json", hello)
	require.Equal(t, exitTimeout, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: timeout: job 17 still queued after 2s")

	var out outcome
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Equal(t, "timeout", out.Error.Code)
	require.Equal(t, client.JobCancelled, out.State, "the CLI cancels the job it gives up on")
	require.Equal(t, 1, b.api.snapshot().cancelled)
	require.LessOrEqual(t, len(b.api.snapshot().polls), 3, "long polls, not a busy loop")
}

func TestPkgAddWrongKey(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	other, _, _ := keyFiles(t) // not the key the fake accepts
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", other, hello)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: unknown_key: none of the keys this CLI signs with")
	require.Empty(t, b.api.snapshot().uploaded, "refused before anything was uploaded")
	require.Empty(t, b.api.snapshot().changes)
}

// TestPkgAddRefusedSignatureStaysOnJob: a key registered when the CLI
// checked but gone when it signed (removed meanwhile): the server refuses
// the signature, and the CLI withdraws its change naming that failure, so
// the job shows unknown_key rather than a bare cancel.
func TestPkgAddRefusedSignatureStaysOnJob(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	other, _, otherPublic := keyFiles(t)
	b.api.listed = [][]byte{otherPublic}
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", other, hello)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: unknown_key: sign round 9: ")
	require.Equal(t, []string{"unknown_key"}, b.api.snapshot().cancelReasons)
}

// TestPkgAddPollsWhileSigning: the server counts a client present only while
// it polls its job; the CLI keeps polling while it checks and signs a
// round, however long that takes.
func TestPkgAddPollsWhileSigning(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	b.api.awaitPollWhileSigning = true
	b.api.polled = make(chan struct{}, 1)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.True(t, b.api.snapshot().polledWhileSigning, "no poll of the job while the signature was posted")
}

func TestPkgAddChecksArchitecturesFirst(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	arm := filepath.Join(b.dir, "armonly.deb")
	require.NoError(t, os.WriteFile(arm, debtest.Build(t, debtest.Options{Package: "armonly", Architecture: "arm64"}), 0o644))
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello, arm)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "release stable has no architecture arm64 (it has amd64); nothing was uploaded")

	notDeb := filepath.Join(b.dir, "notes.deb")
	require.NoError(t, os.WriteFile(notDeb, []byte("not a package"), 0o644))
	res = runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello, notDeb)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: invalid_package: "+notDeb)
	require.Empty(t, b.api.snapshot().uploaded, "refused before anything was uploaded")
}

func TestPkgRemove(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	b.api.archs = []string{"amd64", "arm64"}
	res := runCLI(t, b.env, "pkg", "remove", "--repo", "acme", "--release", "stable", "--key", b.keyPath,
		"hello", "world=1.0:all", "--ignore-missing")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, []client.RemovalRequest{{Component: "main", Specs: []string{"hello", "world=1.0:all"},
		IgnoreMissing: true}}, b.api.snapshot().removals)
	require.Contains(t, res.stderr, "- hello 1.0 amd64 main")
}

func TestPkgRemoveDryRun(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "pkg", "remove", "--repo", "acme", "--release", "stable", "--dry-run", "hello")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, "- hello 1.0 amd64 main\n", res.stdout)
	require.True(t, b.api.snapshot().removals[0].DryRun)
	require.Empty(t, b.api.snapshot().polls, "nothing submitted, nothing followed")
}

func TestPkgAddInterrupted(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, neverEnds)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond) // as SIGINT would
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello},
		func(k string) string { return b.env[k] }, strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, exitFailed, code, stderr.String())
	require.Contains(t, stderr.String(), "aptq: interrupted: ")
	require.Contains(t, stderr.String(), "job 17 was cancelled: its change will not be published")
}

func TestPkgAddChecksFilesFirst(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath,
		hello, filepath.Join(b.dir, "missing.deb"))
	require.Equal(t, exitFailed, res.code)
	require.Contains(t, res.stderr, "missing.deb: no such file")
	require.Empty(t, b.api.snapshot().uploaded)
}

func TestPkgCopyAndPruneUsage(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	for _, args := range [][]string{
		{"pkg", "copy", "--repo", "acme", "--from", "staging", "--release", "stable", "--all", "hello"},
		{"pkg", "copy", "--repo", "acme", "--from", "staging", "--release", "stable"},
		{"pkg", "copy", "--repo", "acme", "--from", "/main", "--release", "stable", "hello"},
		{"pkg", "prune", "--repo", "acme", "--release", "stable", "--keep", "0"},
	} {
		res := runCLI(t, b.env, args...)
		require.Equal(t, exitUsage, res.code, "%v: %s", args, res.stderr)
	}
	require.Zero(t, b.api.snapshot().requests, "nothing reached the server")
}
