package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aptq/aptq/internal/systest"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

type cliResult struct {
	JobID      int64    `json:"job_id"`
	State      string   `json:"state"`
	Generation int64    `json:"generation"`
	SignedBy   []string `json:"signed_by"`
	Error      *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// TestCLILifecycle drives the real CLI binary as a CI job would: --json
// results, exit codes, no progress drawing in a pipe, a key rotation signed
// with two --key and accepted by an apt that trusts only the new key,
// resign and rollback, and signing through gpg (a throwaway GNUPGHOME).
func TestCLILifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	oldKey := b.repoWithKey("cli", "stable")
	newKey := filepath.Join(b.dir, "new.asc")
	b.mustCLI("key", "generate", "--name", "new key", "--email", "new@example.com", "--out", newKey)

	run := func(env []string, args ...string) cliResult {
		t.Helper()
		out, errOut, code := b.cliEnv(ctx, env, append([]string{"--json"}, args...)...)
		require.Equal(t, 0, code, "aptq %v\n%s\n%s", args, out, errOut)
		require.NotContains(t, errOut, "\r", "no progress drawing outside a terminal")
		require.NotContains(t, errOut, "\x1b")
		var r cliResult
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
		return r
	}
	packages := func() string {
		body, status, err := getPackages(ctx, b.URL+"/apt/"+b.Tenant+"/cli/dists/stable/main/binary-amd64/Packages")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		return string(body)
	}

	for i, name := range []string{"one", "two", "three"} {
		deb := writeDeb(t, b.dir, debtest.Options{Package: name, Version: "1.0", Architecture: "amd64"})
		r := run(nil, "pkg", "add", "--repo", "cli", "--release", "stable", "--key", oldKey, deb)
		require.Equal(t, "published", r.State)
		require.NotZero(t, r.JobID)
		require.Equal(t, int64(i+1), r.Generation)
	}
	gen2 := ""
	r := run(nil, "release", "rollback", "--repo", "cli", "--release", "stable", "--to-generation", "1", "--key", oldKey)
	require.Equal(t, int64(4), r.Generation)
	gen2 = packages()
	require.Contains(t, gen2, "Package: one")
	require.NotContains(t, gen2, "Package: two")

	// Key rotation: register the new key, resign with both; apt with only the new key accepts.
	b.mustCLI("key", "add", "--repo", "cli", pubKeyFile(newKey))
	r = run(nil, "release", "resign", "--repo", "cli", "--release", "stable", "--key", oldKey, "--key", newKey)
	require.Equal(t, int64(5), r.Generation)
	require.Len(t, r.SignedBy, 2)
	require.Equal(t, gen2, packages(), "a resign changes no index")
	pub, err := os.ReadFile(pubKeyFile(newKey))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/cli", "stable", "main", string(pub))
	apt.run("update")
	apt.run("install", "-y", "--download-only", "one")

	// Signing through the system gpg with a key that lives in a throwaway GNUPGHOME.
	gnupg := filepath.Join(b.dir, "gnupg")
	require.NoError(t, os.MkdirAll(gnupg, 0o700))
	gpg := func(args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--batch", "--homedir", gnupg}, args...)...)
		out, err := cmd.Output()
		require.NoError(t, err)
		return out
	}
	gpg("--passphrase", "", "--quick-gen-key", "gpg signer <gpg@example.com>", "ed25519", "sign", "never")
	gpgPub := filepath.Join(b.dir, "gpg.pub.asc")
	require.NoError(t, os.WriteFile(gpgPub, gpg("--armor", "--export", "gpg@example.com"), 0o644))
	b.mustCLI("key", "add", "--repo", "cli", gpgPub)
	deb := writeDeb(t, b.dir, debtest.Options{Package: "four", Version: "1.0", Architecture: "amd64"})
	// A key that signed no earlier generation cannot check the last one
	// (G9): the CLI refuses and says what to do, until told not to check.
	_, errOut, code := b.cliEnv(ctx, []string{"GNUPGHOME=" + gnupg}, "pkg", "add", "--repo", "cli", "--release", "stable",
		"--gpg", "gpg@example.com", deb)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "generation 5 is not signed by any key this CLI signs with")
	r = run([]string{"GNUPGHOME=" + gnupg}, "pkg", "add", "--repo", "cli", "--release", "stable", "--gpg", "gpg@example.com",
		"--no-verify", deb)
	require.Equal(t, int64(6), r.Generation)

	// Exit codes: 2 usage, 4 authentication, 1 failure with a reason.
	_, _, code = b.cli(ctx, "pkg", "add", "--repo", "cli", deb)
	require.Equal(t, 2, code)
	_, _, code = b.cliEnv(ctx, []string{"APTQ_TOKEN=aptq_not_a_token"}, "repo", "list")
	require.Equal(t, 4, code)
	strangerKey := filepath.Join(b.dir, "stranger.asc")
	b.mustCLI("key", "generate", "--name", "stranger", "--out", strangerKey)
	deb = writeDeb(t, b.dir, debtest.Options{Package: "five", Version: "1.0", Architecture: "amd64"})
	// A key the repository does not have is refused before anything is
	// uploaded or submitted (the server would refuse its signature).
	out, errOut, code := b.cli(ctx, "--json", "pkg", "add", "--timeout", "1m", "--repo", "cli", "--release", "stable",
		"--key", strangerKey, "--no-verify", deb)
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	require.Contains(t, errOut, "unknown_key: none of the keys this CLI signs with")
	var refused cliResult
	require.NoError(t, json.Unmarshal([]byte(out), &refused), out)
	require.Zero(t, refused.JobID, "no change was submitted")
	c := client.New(b.URL, b.Token)
	sum := sha256File(t, deb)
	has, err := c.HasPackage(ctx, sum)
	require.NoError(t, err)
	require.False(t, has, "nothing was uploaded")
	// So is a package of an architecture the release does not have.
	i386 := writeDeb(t, b.dir, debtest.Options{Package: "six", Version: "1.0", Architecture: "i386"})
	_, errOut, code = b.cli(ctx, "pkg", "add", "--repo", "cli", "--release", "stable", "--key", newKey, "--no-verify", i386)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "has no architecture i386")
	has, err = c.HasPackage(ctx, sha256File(t, i386))
	require.NoError(t, err)
	require.False(t, has, "nothing was uploaded")
	// Generation 6 is signed by the gpg key alone, which this CLI does not hold.
	r = run(nil, "release", "resign", "--repo", "cli", "--release", "stable", "--key", newKey, "--no-verify")
	require.Equal(t, int64(7), r.Generation)
}

// TestCLITenantsAndTokens: an operator creates a tenant with the CLI; the
// tenant makes a second token, lists and revokes it; the revoked token gets
// exit 4 (authentication).
func TestCLITenantsAndTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	op, err := exec.Command(filepath.Join(binDir, "aptqd"), "admin", "create-token", "--database-url", b.dbURL).Output()
	require.NoError(t, err)
	operator := []string{"APTQ_TOKEN=" + strings.TrimSpace(string(op))}

	out, errOut, code := b.cliEnv(ctx, operator, "tenant", "create", "t2-"+systest.RandomHex(4))
	require.Equal(t, 0, code, errOut)
	tenant := []string{"APTQ_TOKEN=" + strings.TrimSpace(out)}
	_, _, code = b.cliEnv(ctx, operator, "repo", "list")
	require.Equal(t, 1, code, "an operator token is not a tenant's")

	out, errOut, code = b.cliEnv(ctx, tenant, "token", "create", "ci", "--scope", "admin")
	require.Equal(t, 0, code, errOut)
	second := []string{"APTQ_TOKEN=" + strings.TrimSpace(out)}
	out, _, code = b.cliEnv(ctx, second, "--json", "token", "list")
	require.Equal(t, 0, code)
	var tokens struct {
		Tokens []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"tokens"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &tokens))
	require.Len(t, tokens.Tokens, 2)
	require.Equal(t, "ci", tokens.Tokens[0].Name)
	_, errOut, code = b.cliEnv(ctx, tenant, "token", "revoke", fmt.Sprint(tokens.Tokens[0].ID))
	require.Equal(t, 0, code, errOut)
	_, _, code = b.cliEnv(ctx, second, "repo", "list")
	require.Equal(t, 4, code)
	_, _, code = b.cliEnv(ctx, tenant, "repo", "list")
	require.Equal(t, 0, code)
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
