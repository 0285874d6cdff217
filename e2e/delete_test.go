package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// putRaw sends body as it is with the tenant's token and returns the status.
func (b *bundle) putRaw(method, path string, body []byte) int {
	b.t.Helper()
	req, err := http.NewRequest(method, b.URL+path, bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestDeleteRefusedWhilePending: with no worker running (role api) a
// submitted change stays pending, and deleting its release or repository
// is refused with a clear message; nothing is marked for deletion.
func TestDeleteRefusedWhilePending(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{role: "api"})
	b.repoWithKey("busy", "stable")
	deb := debtest.Build(t, debtest.Options{Package: "waiting", Version: "1.0", Architecture: "amd64"})
	sum := sha256.Sum256(deb)
	hexSum := hex.EncodeToString(sum[:])
	require.Equal(t, http.StatusCreated, b.putRaw(http.MethodPut, "/v1/packages/"+hexSum, deb))
	require.Equal(t, http.StatusAccepted, b.api(t, http.MethodPost, "/v1/repos/busy/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": hexSum, "component": "main"}}}, nil))

	ctx := context.Background()
	_, errOut, code := b.cli(ctx, "release", "delete", "--repo", "busy", "--release", "stable", "--yes")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "1 unpublished change(s)")
	_, errOut, code = b.cli(ctx, "repo", "delete", "--repo", "busy", "--yes")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "1 unpublished change(s)")
	require.NotContains(t, b.mustCLI("release", "show", "--repo", "busy", "--release", "stable"), "being deleted")
}

// TestReleaseAndRepoDelete: --yes is required; a deleted release answers
// apt-get update with a clean 404 on InRelease (no hash mismatch) and has
// nothing left in S3; the name starts over at generation 1; a repository
// delete removes its releases and its pool; the audit log records both.
func TestReleaseAndRepoDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("del", "stable", "other")
	dir := t.TempDir()
	one := writeDeb(t, dir, debtest.Options{Package: "one", Version: "1.0", Architecture: "amd64"})
	b.mustCLI("pkg", "add", "--repo", "del", "--release", "stable", "--key", key, one)
	b.mustCLI("pkg", "add", "--repo", "del", "--release", "other", "--key", key,
		writeDeb(t, dir, debtest.Options{Package: "kept", Version: "1.0", Architecture: "amd64"}))
	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	url := b.URL + "/apt/" + b.Tenant + "/del"
	apt := newAptClient(t, url, "stable", "main", string(pub))
	apt.run("update")
	ctx := context.Background()
	status := func(path string) int {
		_, st, err := get(ctx, url+"/"+path)
		require.NoError(t, err)
		return st
	}
	poolFile := "pool/main/o/one/one_1.0_amd64.deb"
	require.Equal(t, http.StatusOK, status(poolFile))

	_, errOut, code := b.cli(ctx, "release", "delete", "--repo", "del", "--release", "stable")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "add --yes")
	require.Equal(t, http.StatusOK, status("dists/stable/InRelease"))

	require.Contains(t, b.mustCLI("release", "delete", "--repo", "del", "--release", "stable", "--yes"),
		"deleted release stable of del")
	out, err := apt.Run(ctx, "update")
	require.Error(t, err)
	require.Contains(t, out, "404")
	require.NotContains(t, out, "Hash Sum mismatch")
	for _, p := range []string{"dists/stable/InRelease", "dists/stable/Release", "dists/stable/Release.gpg",
		"dists/stable/main/binary-amd64/Packages.gz"} {
		require.Equal(t, http.StatusNotFound, status(p), p)
	}
	require.Equal(t, http.StatusOK, status("dists/other/InRelease"), "the other release stays")
	_, errOut, code = b.cli(ctx, "release", "show", "--repo", "del", "--release", "stable")
	require.NotEqual(t, 0, code, errOut)

	b.mustCLI("release", "create", "--repo", "del", "--release", "stable")
	require.Contains(t, b.mustCLI("pkg", "add", "--repo", "del", "--release", "stable", "--key", key,
		writeDeb(t, dir, debtest.Options{Package: "two", Version: "1.0", Architecture: "amd64"})), "published generation 1")
	fresh := newAptClient(t, url, "stable", "main", string(pub))
	fresh.run("update")
	out, err = fresh.Cache(ctx, "policy", "one", "two")
	require.NoError(t, err)
	require.Contains(t, out, "two:\n  Installed: (none)\n  Candidate: 1.0")
	require.NotContains(t, out, "one:\n  Installed: (none)\n  Candidate: 1.0", "nothing of the deleted release")

	require.Contains(t, b.mustCLI("repo", "delete", "--repo", "del", "--yes"), "deleted repository del")
	for _, p := range []string{"dists/stable/InRelease", "dists/other/InRelease", "pool/main/k/kept/kept_1.0_amd64.deb"} {
		require.Equal(t, http.StatusNotFound, status(p), p)
	}
	_, _, code = b.cli(ctx, "repo", "show", "del")
	require.NotEqual(t, 0, code)

	var audit struct {
		Entries []struct{ Action, Target string }
	}
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("--json", "audit", "list", "--limit", "500")), &audit))
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action+" "+e.Target)
	}
	for _, want := range []string{"release.delete del/stable", "release.deleted del/stable", "repo.delete del",
		"release.deleted del/other", "repo.deleted del"} {
		require.Contains(t, actions, want, strings.Join(actions, "\n"))
	}
	b.mustCLI("repo", "create", "del")
	require.Contains(t, b.mustCLI("repo", "list"), "del", "the name is free again")
}
