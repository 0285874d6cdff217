package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

// promoteEnv is a repository with releases staging and stable (amd64,
// arm64), its key, and helpers to read both as apt and as the CLI does.
type promoteEnv struct {
	*bundle
	repo, key string
	pub       []byte
	debs      string
}

func newPromoteEnv(t *testing.T, repo string) *promoteEnv {
	b := setup(t)
	e := &promoteEnv{bundle: b, repo: repo, key: b.repoWithKey(repo, "staging", "stable"), debs: t.TempDir()}
	var err error
	e.pub, err = os.ReadFile(pubKeyFile(e.key))
	require.NoError(t, err)
	return e
}

func (e *promoteEnv) deb(name, version, arch string) string {
	return writeDeb(e.t, e.debs, debtest.Options{Package: name, Version: version, Architecture: arch})
}

// apt is an apt-get (amd64) reading release's main component.
func (e *promoteEnv) apt(release string) *aptClient {
	a := newAptClient(e.t, e.URL+"/apt/"+e.Tenant+"/"+e.repo, release, "main", string(e.pub))
	a.run("update")
	return a
}

// sees says whether apt can fetch NAME=VERSION.
func (a *aptClient) sees(name, version string) bool {
	_, err := a.Run(context.Background(), "install", "-y", "--download-only", "--allow-downgrades", name+"="+version)
	return err == nil
}

// versions lists, sorted as text, the versions of name apt knows from the
// indexes it verified (apt-cache madison).
func (a *aptClient) versions(name string) []string {
	out, err := a.Cache(context.Background(), "madison", name)
	require.NoError(a.t, err)
	var vs []string
	for line := range strings.Lines(out) {
		if f := strings.Split(line, "|"); len(f) == 3 && strings.TrimSpace(f[0]) == name {
			vs = append(vs, strings.TrimSpace(f[1]))
		}
	}
	slices.Sort(vs)
	return vs
}

// archived is the SHA-256 of a .deb apt downloaded.
func (a *aptClient) archived(file string) string {
	data, err := os.ReadFile(filepath.Join(a.Dir, "archives", file))
	require.NoError(a.t, err)
	return sha256Of(data)
}

func sha256Of(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// state is the release's generation and history, to show that a command
// changed nothing.
func (e *promoteEnv) state(release string) string {
	rel := e.mustCLI("--json", "release", "show", "--repo", e.repo, "--release", release)
	hist := e.mustCLI("--json", "release", "history", "--repo", e.repo, "--release", release)
	var r client.Release
	require.NoError(e.t, json.Unmarshal([]byte(rel), &r))
	return strconv.FormatInt(r.Generation, 10) + "\n" + hist
}

func (e *promoteEnv) publish(release string, debs ...string) {
	e.mustCLI(append([]string{"pkg", "add", "--repo", e.repo, "--release", release, "--key", e.key}, debs...)...)
}

func (e *promoteEnv) copy(args ...string) string {
	return e.mustCLI(append([]string{"pkg", "copy", "--repo", e.repo, "--from", "staging", "--release", "stable", "--key", e.key}, args...)...)
}

// TestCopyPromotes: copy by version, by name and --all; apt in the target
// installs the very file uploaded to staging; copying what is there is a
// no-op.
func TestCopyPromotes(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "prom")
	hello1, hello2 := e.deb("hello", "1.0", "amd64"), e.deb("hello", "2.0", "amd64")
	e.publish("staging", hello1, hello2, e.deb("tool", "1.0", "all"), e.deb("other", "1:3.0", "amd64"))

	e.copy("hello=2.0")
	stable := e.apt("stable")
	require.True(t, stable.sees("hello", "2.0"))
	want, err := os.ReadFile(hello2)
	require.NoError(t, err)
	require.Equal(t, sha256Of(want), stable.archived("hello_2.0_amd64.deb"), "the same content")
	require.False(t, stable.sees("hello", "1.0"), "only the version named")
	require.False(t, stable.sees("tool", "1.0"))

	e.copy("tool") // by name: every version
	stable.run("update")
	require.True(t, stable.sees("tool", "1.0"))

	// What stable holds already: nothing to change, no generation.
	before := e.state("stable")
	require.Contains(t, e.copy("hello=2.0:amd64", "tool"), "nothing to change")
	require.Equal(t, before, e.state("stable"))

	// --dry-run --all lists what --all would add, and adds nothing.
	out := e.mustCLI("pkg", "copy", "--repo", e.repo, "--from", "staging/main", "--release", "stable", "--all", "--dry-run")
	require.ElementsMatch(t, []string{"+ hello 1.0 amd64 main", "+ other 1:3.0 amd64 main"}, strings.Split(strings.TrimSpace(out), "\n"))
	require.Equal(t, before, e.state("stable"))

	e.copy("--all")
	stable.run("update")
	require.True(t, stable.sees("hello", "1.0"))
	require.True(t, stable.sees("other", "1:3.0"))
	want, err = os.ReadFile(hello1)
	require.NoError(t, err)
	require.Equal(t, sha256Of(want), stable.archived("hello_1.0_amd64.deb"))
	var plan client.Plan
	require.NoError(t, json.Unmarshal([]byte(e.mustCLI("--json", "pkg", "copy", "--repo", e.repo, "--from", "staging",
		"--release", "stable", "--all", "--dry-run")), &plan))
	require.Empty(t, plan.Items)
	require.Equal(t, 4, plan.Unchanged)
}

// TestRemoveByName: NAME removes every version; apt sees none of them.
func TestRemoveByName(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "rmname")
	e.publish("staging", e.deb("hello", "1.0", "amd64"), e.deb("hello", "2.0", "amd64"), e.deb("hello", "2.0", "arm64"),
		e.deb("keep", "1.0", "amd64"))
	a := e.apt("staging")
	require.True(t, a.sees("hello", "1.0"))
	require.True(t, a.sees("hello", "2.0"))

	before := e.state("staging")
	out := e.mustCLI("pkg", "remove", "--repo", e.repo, "--release", "staging", "--dry-run", "hello")
	require.ElementsMatch(t, []string{"- hello 1.0 amd64 main", "- hello 2.0 amd64 main", "- hello 2.0 arm64 main"},
		strings.Split(strings.TrimSpace(out), "\n"))
	require.Equal(t, before, e.state("staging"), "a dry run changes nothing")

	e.mustCLI("pkg", "remove", "--repo", e.repo, "--release", "staging", "--key", e.key, "hello")
	a.run("update")
	require.False(t, a.sees("hello", "1.0"))
	require.False(t, a.sees("hello", "2.0"))
	require.True(t, a.sees("keep", "1.0"))
}

// TestRetention: a release that keeps 2 versions, given 4 whose string
// order is not dpkg's, shows apt the 2 newest by dpkg order; the history
// and the job timeline list what retention removed.
func TestRetention(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "keep")
	e.mustCLI("release", "create", "--repo", e.repo, "--release", "kept", "--architectures", "amd64", "--keep-versions", "2")
	// dpkg order: 1.2 < 1.9 < 1.10 < 1:0.1 (string order: 1.10 < 1.2 < 1.9 < 1:0.1).
	for _, v := range []string{"1.9", "1.10", "1.2"} {
		e.publish("kept", e.deb("tool", v, "amd64"))
	}
	var outcome struct {
		JobID int64 `json:"job_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustCLI("--json", "pkg", "add", "--repo", e.repo, "--release", "kept",
		"--key", e.key, e.deb("tool", "1:0.1", "amd64"))), &outcome))
	a := e.apt("kept")
	require.True(t, a.sees("tool", "1:0.1"))
	require.True(t, a.sees("tool", "1.10"))
	require.False(t, a.sees("tool", "1.9"))
	require.False(t, a.sees("tool", "1.2"))

	var hist struct{ Generations []client.Generation }
	require.NoError(t, json.Unmarshal([]byte(e.mustCLI("--json", "release", "history", "--repo", e.repo, "--release", "kept")), &hist))
	require.Len(t, hist.Generations, 4)
	require.Equal(t, []client.Remove{{Name: "tool", Version: "1.9", Architecture: "amd64", Component: "main"}}, hist.Generations[0].Retention)
	require.Equal(t, []client.Remove{{Name: "tool", Version: "1.2", Architecture: "amd64", Component: "main"}}, hist.Generations[1].Retention,
		"1.2, added third, is the oldest at once")
	require.Empty(t, hist.Generations[2].Retention)
	require.Contains(t, e.mustCLI("release", "history", "--repo", e.repo, "--release", "kept"),
		"generation 4: retention removed tool 1.9 amd64 from main")

	show := e.mustCLI("job", "show", "--json", strconv.FormatInt(outcome.JobID, 10))
	require.Contains(t, show, `"kind": "retention"`)
	require.Contains(t, show, "tool 1.9 amd64 main")

	// A rollback to generation 3 restores what it held after its retention
	// (1.9 and 1.10; 1.2 was dropped in that very generation).
	e.mustCLI("release", "rollback", "--repo", e.repo, "--release", "kept", "--to-generation", "3", "--key", e.key)
	a.run("update")
	require.True(t, a.sees("tool", "1.9"))
	require.True(t, a.sees("tool", "1.10"))
	require.False(t, a.sees("tool", "1:0.1"))
	require.False(t, a.sees("tool", "1.2"))
}

// TestPrune: --dry-run lists and changes nothing; prune removes all but
// the newest by dpkg order.
func TestPrune(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "prune")
	e.publish("staging", e.deb("tool", "1.9", "amd64"), e.deb("tool", "1.10", "amd64"), e.deb("tool", "1.2", "amd64"))
	before := e.state("staging")
	out := e.mustCLI("pkg", "prune", "--repo", e.repo, "--release", "staging", "--keep", "1", "--dry-run")
	require.Equal(t, "- tool 1.9 amd64 main\n- tool 1.2 amd64 main\n", out)
	var plan client.Plan
	require.NoError(t, json.Unmarshal([]byte(e.mustCLI("--json", "pkg", "prune", "--repo", e.repo, "--release", "staging",
		"--keep", "2", "--dry-run")), &plan))
	require.Equal(t, []client.PlanItem{{Op: "-", Name: "tool", Version: "1.2", Architecture: "amd64", Component: "main"}}, plan.Items)
	require.Equal(t, before, e.state("staging"))

	e.mustCLI("pkg", "prune", "--repo", e.repo, "--release", "staging", "--keep", "1", "--key", e.key)
	a := e.apt("staging")
	require.True(t, a.sees("tool", "1.10"))
	require.False(t, a.sees("tool", "1.9"))
	require.False(t, a.sees("tool", "1.2"))
}

// TestSpecErrors: a spec that matches nothing fails (exit 1, HTTP 422
// unmatched_spec) unless --ignore-missing; hostile specs are refused and
// change nothing.
func TestSpecErrors(t *testing.T) {
	t.Parallel()
	e := newPromoteEnv(t, "specs")
	e.publish("staging", e.deb("hello", "1.0", "amd64"))
	before, beforeStable := e.state("staging"), e.state("stable")
	ctx := context.Background()

	_, errOut, code := e.cli(ctx, "pkg", "remove", "--repo", e.repo, "--release", "staging", "--key", e.key, "hello", "nope")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "unmatched_spec")
	require.Contains(t, errOut, "nope")
	_, errOut, code = e.cli(ctx, "pkg", "copy", "--repo", e.repo, "--from", "staging", "--release", "stable", "--key", e.key, "hello=9.9")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "unmatched_spec")

	body, _ := json.Marshal(map[string]any{"component": "main", "specs": []string{"nope"}})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/v1/repos/"+e.repo+"/releases/staging/removals", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var apiErr struct {
		Code    string         `json:"code"`
		Details map[string]any `json:"details"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&apiErr))
	resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "unmatched_spec", apiErr.Code)
	require.Equal(t, []any{"nope"}, apiErr.Details["specs"])

	for _, spec := range []string{strings.Repeat("a", 5000), "../../etc/passwd", "pool/main/h/hello", "hello=1.0/../../x",
		"hello=1.0:amd64\nX-Evil: yes", "héllo", "hello;rm -rf /", "hello=$(id)", "*", "hello\\=1.0"} {
		for _, args := range [][]string{
			{"pkg", "remove", "--repo", e.repo, "--release", "staging", "--key", e.key, spec},
			{"pkg", "copy", "--repo", e.repo, "--from", "staging", "--release", "stable", "--key", e.key, spec},
		} {
			_, errOut, code := e.cli(ctx, args...)
			require.Equal(t, 1, code, "%.80q: %s", spec, errOut)
			require.Contains(t, errOut, "invalid", "%.80q", spec)
			require.Less(t, len(errOut), 2000, "the error does not echo a huge spec whole")
		}
	}
	require.Equal(t, before, e.state("staging"), "nothing changed")
	require.Equal(t, beforeStable, e.state("stable"), "nothing changed")

	// --ignore-missing: the spec that matches goes ahead.
	e.mustCLI("pkg", "copy", "--repo", e.repo, "--from", "staging", "--release", "stable", "--key", e.key, "--ignore-missing", "nope", "hello")
	require.True(t, e.apt("stable").sees("hello", "1.0"))
}
