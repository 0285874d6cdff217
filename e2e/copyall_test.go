package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/sign"
)

// seed publishes generated packages into a release with the Go client:
// uploads 8 at a time (the tenant's limit of uploads in flight), then
// changes of 1000 adds, signed as the CLI signs; thousands of packages in
// seconds rather than one CLI per package. It returns each package's
// SHA-256 by "name_version".
func (e *promoteEnv) seed(release string, opts []debtest.Options) map[string]string {
	e.t.Helper()
	ctx := context.Background()
	armored, err := os.ReadFile(e.key)
	require.NoError(e.t, err)
	signer, err := sign.ParsePrivateKey(armored, nil)
	require.NoError(e.t, err)
	debs := make([]systest.Deb, len(opts))
	adds := make([]client.Add, len(opts))
	sums := map[string]string{}
	for i, o := range opts {
		// A file, not the bytes: the client retries an upload the server
		// failed only from a body that can seek back, as the CLI's are.
		data := debtest.Build(e.t, o)
		path := filepath.Join(e.debs, fmt.Sprintf("%05d.deb", i))
		require.NoError(e.t, os.WriteFile(path, data, 0o644))
		sum := sha256Of(data)
		debs[i] = systest.Deb{SHA256: sum, Size: int64(len(data)), Open: func() (io.ReadCloser, error) { return os.Open(path) }}
		adds[i] = client.Add{SHA256: sum, Component: "main"}
		sums[o.Package+"_"+o.Version] = sum
	}
	c := client.New(e.URL, e.Token)
	require.NoError(e.t, systest.UploadAll(ctx, c, debs, 8))
	require.NoError(e.t, systest.PublishAdds(ctx, c, signer, e.repo, release, adds))
	return sums
}

// generation is the release's committed generation.
func (e *promoteEnv) generation(release string) int64 {
	e.t.Helper()
	var r client.Release
	require.NoError(e.t, json.Unmarshal([]byte(e.mustCLI("--json", "release", "show", "--repo", e.repo, "--release", release)), &r))
	return r.Generation
}

// newest is the release's newest generation in its history.
func (e *promoteEnv) newest(release string) client.Generation {
	e.t.Helper()
	var hist struct{ Generations []client.Generation }
	require.NoError(e.t, json.Unmarshal([]byte(e.mustCLI("--json", "release", "history", "--repo", e.repo, "--release", release,
		"--limit", "1")), &hist))
	require.Len(e.t, hist.Generations, 1)
	return hist.Generations[0]
}

// aptPlain is apt-get reading release's main component, updated with its
// lists kept uncompressed (some hosts' apt.conf.d set Acquire::GzipIndexes,
// read before any -o on the command line), for listed.
func (e *promoteEnv) aptPlain(release string) *aptClient {
	a := newAptClient(e.t, e.URL+"/apt/"+e.Tenant+"/"+e.repo, release, "main", string(e.pub))
	a.run("-o", "Acquire::GzipIndexes=false", "update")
	return a
}

// listed counts the stanzas of the amd64 Packages index apt downloaded.
func (a *aptClient) listed() int {
	a.t.Helper()
	files, err := filepath.Glob(filepath.Join(a.Dir, "lists", "*_binary-amd64_Packages"))
	require.NoError(a.t, err)
	require.Len(a.t, files, 1, "apt stored one uncompressed Packages index")
	data, err := os.ReadFile(files[0])
	require.NoError(a.t, err)
	n := 0
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "Package: ") {
			n++
		}
	}
	return n
}

// TestCopyAllOneGeneration: a snapshot promotion of 1 200 packages, more
// than a change a client submits may hold, is one change, one round and
// exactly one new generation of the target; apt sees all of it and
// installs the very file uploaded to staging.
func TestCopyAllOneGeneration(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "snap")
	const n = 1200
	opts := make([]debtest.Options, n)
	for i := range opts {
		opts[i] = debtest.Options{Package: fmt.Sprintf("snap%04d", i), Version: "1.0", Architecture: "amd64"}
	}
	sums := e.seed("staging", opts)
	e.copy("snap0042") // stable holds one of them already
	before := e.generation("stable")

	out, errOut, code := e.cli(context.Background(), "pkg", "copy", "--repo", e.repo, "--from", "staging", "--release", "stable",
		"--key", e.key, "--all")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Equal(t, before+1, e.generation("stable"), "one new generation")
	gen := e.newest("stable")
	require.Equal(t, before+1, gen.Generation)
	require.Equal(t, 1, gen.Changes, "one change")
	require.Equal(t, n-1, gen.Adds)
	require.Contains(t, errOut, "1 package(s) already as asked")
	require.Contains(t, errOut, fmt.Sprintf("… and %d more (%d in all)", n-1-200, n-1), "the plan's log is cut at 200 lines")
	require.Contains(t, errOut, "checked: generation", "the CLI checked the round before signing it")
	require.Less(t, strings.Count(errOut, "\n"), 600, "neither the plan nor the round is printed whole")

	stable := e.aptPlain("stable")
	require.Equal(t, n, stable.listed(), "apt sees every package")
	require.True(t, stable.sees("snap1199", "1.0"))
	require.Equal(t, sums["snap1199_1.0"], stable.archived("snap1199_1.0_amd64.deb"), "the same content")
}

// TestPlansOverClientLimit: on a server whose plan bound is 1 500, a
// removal of one name's 1 100 versions is one round; a copy of 1 600 is
// refused, naming the bound, dry run or not, and changes nothing.
func TestPlansOverClientLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_MAX_PLAN_PACKAGES=1500"}})
	e := &promoteEnv{bundle: b, repo: "bound", key: b.repoWithKey("bound", "staging", "stable"), debs: t.TempDir()}
	pub, err := os.ReadFile(pubKeyFile(e.key))
	require.NoError(t, err)
	e.pub = pub
	var opts []debtest.Options
	for i := 1; i <= 1100; i++ {
		opts = append(opts, debtest.Options{Package: "many", Version: fmt.Sprintf("1.%d", i), Architecture: "amd64"})
	}
	for i := range 500 {
		opts = append(opts, debtest.Options{Package: fmt.Sprintf("other%03d", i), Version: "1.0", Architecture: "amd64"})
	}
	e.seed("staging", opts)

	beforeStable, beforeStaging := e.state("stable"), e.state("staging")
	for _, extra := range [][]string{{"--all"}, {"--all", "--dry-run"}} {
		out, errOut, code := e.cli(context.Background(), append([]string{"pkg", "copy", "--repo", e.repo, "--from", "staging",
			"--release", "stable", "--key", e.key}, extra...)...)
		require.Equal(t, 1, code, "%v\nstdout: %s\nstderr: %s", extra, out, errOut)
		require.Contains(t, errOut, "too_many_matches")
		require.Contains(t, errOut, "this changes 1600 packages; a change the server plans holds at most 1500 (max_plan_packages)")
	}
	require.Equal(t, beforeStable, e.state("stable"), "nothing changed")
	require.Equal(t, beforeStaging, e.state("staging"), "nothing changed")

	before := e.generation("staging")
	e.mustCLI("pkg", "remove", "--repo", e.repo, "--release", "staging", "--key", e.key, "many")
	require.Equal(t, before+1, e.generation("staging"), "one new generation")
	gen := e.newest("staging")
	require.Equal(t, 1, gen.Changes)
	require.Equal(t, 1100, gen.Removes)
	a := e.aptPlain("staging")
	require.Equal(t, 500, a.listed())
	require.False(t, a.sees("many", "1.1100"))
	require.True(t, a.sees("other499", "1.0"))
}
