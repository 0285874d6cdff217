package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// TestAttackLeakedCIToken replays a leaked CI token with the real binaries.
// The pipeline's token has scope publish, limited to repository acme: it
// publishes as before, but whoever holds it cannot register their own
// signing key, make a token, or touch another repository; a read token
// cannot publish. Each refusal is 403 forbidden (exit 1) and changes
// nothing; the audit log and the job name the tokens that acted.
func TestAttackLeakedCIToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	key := b.repoWithKey("acme", "stable")
	b.mustCLI("repo", "create", "tools")
	b.mustCLI("release", "create", "--repo", "tools", "--release", "stable")

	var ci, viewer struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("--json", "token", "create", "ci", "--scope", "publish", "--repo", "acme")), &ci))
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("--json", "token", "create", "viewer", "--scope", "read")), &viewer))
	asCI := []string{"APTQ_TOKEN=" + ci.Token}
	asViewer := []string{"APTQ_TOKEN=" + viewer.Token}
	refused := func(env []string, args ...string) string {
		t.Helper()
		out, errOut, code := b.cliEnv(ctx, env, args...)
		require.Equal(t, 1, code, "aptq %v\nstdout: %s\nstderr: %s", args, out, errOut)
		require.Contains(t, errOut, "aptq: forbidden: ", "aptq %v", args)
		return errOut
	}

	// The pipeline publishes normally.
	deb := writeDeb(t, b.dir, debtest.Options{Package: "hello", Version: "1.0", Architecture: "amd64"})
	out, errOut, code := b.cliEnv(ctx, asCI, "--json", "pkg", "add", "--repo", "acme", "--release", "stable", "--key", key, deb)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	var published cliResult
	require.NoError(t, json.Unmarshal([]byte(out), &published), out)
	require.Equal(t, "published", published.State)

	keysBefore := b.mustCLI("--json", "key", "list", "--repo", "acme")
	tokensBefore := b.mustCLI("--json", "token", "list")
	jobsBefore := b.mustCLI("--json", "job", "list")
	pkgsBefore := b.mustCLI("--json", "pkg", "list", "--repo", "acme", "--release", "stable")

	// The attacker registers their own key on acme: refused, naming the scope needed.
	attacker := filepath.Join(b.dir, "attacker.asc")
	b.mustCLI("key", "generate", "--name", "attacker", "--email", "evil@example.com", "--out", attacker)
	require.Contains(t, refused(asCI, "key", "add", "--repo", "acme", pubKeyFile(attacker)), "scope admin")
	refused(asCI, "key", "remove", "--repo", "acme", strings.Repeat("A", 40))
	// … makes themselves a token, of any scope.
	refused(asCI, "token", "create", "mine", "--scope", "admin")
	refused(asCI, "token", "create", "mine", "--scope", "publish", "--repo", "acme")
	refused(asCI, "token", "revoke", fmt.Sprint(viewer.ID))
	refused(asCI, "token", "list")
	refused(asCI, "audit", "list")
	refused(asCI, "repo", "create", "evil")
	// … or touches another repository.
	other := writeDeb(t, b.dir, debtest.Options{Package: "evil", Version: "6.6.6", Architecture: "amd64"})
	require.Contains(t, refused(asCI, "pkg", "add", "--repo", "tools", "--release", "stable", "--key", attacker, other), "tools")
	refused(asCI, "release", "show", "--repo", "tools", "--release", "stable")
	refused(asCI, "release", "resign", "--repo", "tools", "--release", "stable", "--key", attacker)
	refused(asCI, "job", "list", "--repo", "tools")
	repos := b.cliMust(asCI, "repo", "list")
	require.Contains(t, repos, "acme")
	require.NotContains(t, repos, "tools", "a token limited to acme sees only acme")
	// A read token cannot publish.
	require.Contains(t, refused(asViewer, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", key, other), "scope")
	refused(asViewer, "job", "cancel", fmt.Sprint(published.JobID))

	require.Equal(t, keysBefore, b.mustCLI("--json", "key", "list", "--repo", "acme"))
	require.Equal(t, tokensBefore, b.mustCLI("--json", "token", "list"))
	require.Equal(t, jobsBefore, b.mustCLI("--json", "job", "list"))
	require.Equal(t, pkgsBefore, b.mustCLI("--json", "pkg", "list", "--repo", "acme", "--release", "stable"))
	body, status, err := get(ctx, b.URL+"/apt/"+b.Tenant+"/tools/dists/stable/InRelease")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status, "tools was never published: %s", body)

	// Who did what. The pipeline may resign (scheduled key rotation); that is audited too.
	b.cliMust(asCI, "release", "resign", "--repo", "acme", "--release", "stable", "--key", key)
	job := b.mustCLI("job", "show", fmt.Sprint(published.JobID))
	require.Contains(t, job, fmt.Sprintf("submitted by: ci (token %d)", ci.ID))
	require.Contains(t, job, fmt.Sprintf("signed by: ci (token %d)", ci.ID))
	history := b.cliMust(asViewer, "release", "history", "--repo", "acme", "--release", "stable")
	require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`(?m)^1\s.*ci \(token %d\)\s+ci \(token %d\)\s*$`, ci.ID, ci.ID)), history)
	audit := b.mustCLI("audit", "list")
	for _, want := range []string{
		`initial \(token \d+\)\s+repo.create\s+acme`,
		`initial \(token \d+\)\s+key.add\s+acme\s+fingerprint=`,
		`initial \(token \d+\)\s+release.create\s+acme/stable`,
		`initial \(token \d+\)\s+token.create\s+ci\s+id=\d+; repos=acme; scope=publish`,
		`initial \(token \d+\)\s+token.create\s+viewer\s+id=\d+; scope=read`,
		fmt.Sprintf(`ci \(token %d\)\s+release.resign\s+acme/stable\s+`, ci.ID),
	} {
		require.Regexp(t, want, audit)
	}
	require.NotContains(t, audit, "attacker")
	require.NotContains(t, audit, "evil")

	// The server is still up, and the pipeline still publishes.
	deb2 := writeDeb(t, b.dir, debtest.Options{Package: "hello", Version: "1.1", Architecture: "amd64"})
	_, errOut, code = b.cliEnv(ctx, asCI, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", key, deb2)
	require.Equal(t, 0, code, errOut)
}

// cliMust runs the CLI with extra environment and fails the test unless it
// exits 0.
func (b *bundle) cliMust(env []string, args ...string) string {
	b.t.Helper()
	out, errOut, code := b.cliEnv(context.Background(), env, args...)
	require.Equal(b.t, 0, code, "aptq %v\nstdout: %s\nstderr: %s", args, out, errOut)
	return out
}
