package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/store"
)

// raw sends a request with the tenant's token and returns the status, the
// error code of a JSON error body and the response headers.
func (b *bundle) raw(method, path, token string, body []byte, header map[string]string) (int, string, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.URL+path, bytes.NewReader(body))
	require.NoError(b.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	_, code, _ := strings.Cut(string(data), `"code":"`)
	code, _, _ = strings.Cut(code, `"`)
	return resp.StatusCode, code, resp.Header
}

func randomMethod(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return string(b)
}

// TestAttackInputLimits replays the input attacks of the security review
// against the real aptqd: unauthenticated requests with 900 KB methods that
// grew /metrics without bound, an oversized release, JSON bodies with a
// second value or over 1 MiB, a .deb with a 5 000-byte Version, a remove
// with an invalid version and an X-Request-ID of 8 KB. Each is refused with
// its code and changes nothing; the server stays up. The operator token
// comes from a file, so it is not on aptqd's command line.
func TestAttackInputLimits(t *testing.T) {
	t.Parallel()
	adminToken := "aptq_admin_" + strings.Repeat("7", 32)
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600))
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_ADMIN_TOKEN_FILE=" + tokenFile}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := client.New(b.URL, b.Token)

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", b.pid))
	require.NoError(t, err)
	require.NotContains(t, string(cmdline), adminToken)
	status, _, _ := b.raw(http.MethodGet, "/v1/jobs", adminToken, nil, nil)
	require.Equal(t, http.StatusOK, status, "the operator token from the file works")

	metricsSize := func() int {
		body, status, err := get(ctx, b.URL+"/metrics")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		return len(body)
	}
	before := metricsSize()
	for range 10 {
		status, _, _ := b.raw(randomMethod(900<<10), "/"+randomMethod(2000), "", nil, nil)
		require.Equal(t, http.StatusNotFound, status)
	}
	require.Less(t, metricsSize(), before+32<<10, "10 requests with 900 KB methods leave /metrics small")

	b.mustCLI("repo", "create", "lim")
	huge := map[string]any{"name": "huge"}
	var comps, archs []string
	for i := range 20000 {
		comps = append(comps, "c"+strconv.Itoa(i))
	}
	for i := range 2000 {
		archs = append(archs, "a"+strconv.Itoa(i))
	}
	huge["components"], huge["architectures"] = comps, archs
	_, err = c.CreateRelease(ctx, "lim", releaseRequest(t, huge))
	require.Equal(t, "invalid", client.ErrorCode(err), "%v", err)

	for body, want := range map[string]struct {
		status int
		code   string
	}{
		`{"name":"one"}{"name":"two"}`:                            {400, "trailing_data"},
		`{"name":"one"} trailing`:                                 {400, "trailing_data"},
		`{"name":"` + strings.Repeat("x", 2<<20) + `"}`:           {413, "too_large"},
		`{"name":"one"}` + strings.Repeat(" ", 1<<20) + `{"x":1}`: {413, "too_large"},
	} {
		status, code, _ := b.raw(http.MethodPost, "/v1/repos", b.Token, []byte(body), nil)
		require.Equal(t, want.status, status, "%.40s", body)
		require.Equal(t, want.code, code, "%.40s", body)
	}
	repos, err := c.ListRepos(ctx)
	require.NoError(t, err)
	require.Len(t, repos, 1, "no refused request created a repository")
	require.Empty(t, repos[0].Releases)

	// S3's clock, a second at a time, may lag the test's.
	started := time.Now().Add(-2 * time.Second)
	deb := debtest.Build(t, debtest.Options{Package: "long", Version: "1" + strings.Repeat("a", 4999), Architecture: "amd64"})
	sum := sha256.Sum256(deb)
	hexSum := hex.EncodeToString(sum[:])
	_, err = c.UploadPackage(ctx, hexSum, bytes.NewReader(deb), int64(len(deb)))
	require.Equal(t, "invalid_package", client.ErrorCode(err), "%v", err)
	require.Contains(t, err.Error(), "Version field is 5000 bytes")
	status, _, _ = b.raw(http.MethodHead, "/v1/packages/"+hexSum, b.Token, nil, nil)
	require.Equal(t, http.StatusNotFound, status)
	s3, _ := blobtest.New(t)
	tenant := b.tenantID(t)
	_, err = s3.Head(ctx, store.PackageBlobKey(tenant, hexSum))
	require.ErrorIs(t, err, blob.ErrNotFound)
	// Every test's database numbers its first tenant 1, so the prefix is
	// shared with other runs on the same S3 server: only this upload counts.
	require.NoError(t, s3.List(ctx, store.UploadsPrefix+strconv.FormatInt(tenant, 10)+"/"+hexSum, func(i blob.Info) error {
		if i.LastModified.Before(started) {
			return nil
		}
		return fmt.Errorf("upload left in S3: %s", i.Key)
	}))

	b.mustCLI("release", "create", "--repo", "lim", "--release", "stable")
	_, err = c.SubmitChange(ctx, "lim", "stable", client.ChangeRequest{Removes: []client.Remove{
		{Name: "hello", Version: "1.0\nFilename: ../../x", Architecture: "amd64", Component: "main"}}})
	require.Equal(t, "invalid", client.ErrorCode(err), "%v", err)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "removes[0].version", apiErr.Details["field"])

	status, _, header := b.raw(http.MethodGet, "/healthz", "", nil, map[string]string{"X-Request-ID": strings.Repeat("r", 8<<10)})
	require.Equal(t, http.StatusOK, status)
	require.LessOrEqual(t, len(header.Get("X-Request-ID")), 64)
	require.NotEmpty(t, header.Get("X-Request-ID"))

	status, _, _ = b.raw(http.MethodGet, "/readyz", "", nil, nil)
	require.Equal(t, http.StatusOK, status, "the server is still up")
}

// releaseRequest converts a JSON-shaped map to the client's request type.
func releaseRequest(t *testing.T, m map[string]any) client.ReleaseRequest {
	t.Helper()
	r := client.ReleaseRequest{Name: m["name"].(string)}
	r.Components, _ = m["components"].([]string)
	r.Architectures, _ = m["architectures"].([]string)
	return r
}

// revokedPublicKey returns the public half of the private key in keyFile
// with a revocation signature, as gpg exports it once the revocation
// certificate is imported; the private key file itself stays unrevoked, as
// a stolen copy would.
func revokedPublicKey(t *testing.T, keyFile string) []byte {
	t.Helper()
	f, err := os.Open(keyFile)
	require.NoError(t, err)
	defer f.Close()
	el, err := openpgp.ReadArmoredKeyRing(f)
	require.NoError(t, err)
	require.Len(t, el, 1)
	require.NoError(t, el[0].RevokeKey(packet.KeyCompromised, "key leaked", nil))
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	require.NoError(t, err)
	require.NoError(t, el[0].Serialize(w))
	require.NoError(t, w.Close())
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestAttackRevokedKey: a key leaks and its owner revokes it. `aptq key add`
// of the revoked key replaces the registered copy, and from then on rounds
// signed with it are refused (revoked_key: the CLI sees the revocation in
// the key list before uploading; the server's refusal of such a signature
// is api's TestKeyReAdd), also after the old, unrevoked export is added again.
func TestAttackRevokedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("rev", "stable")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := client.New(b.URL, b.Token)
	first := writeDeb(t, b.dir, debtest.Options{Package: "rev-one", Version: "1.0", Architecture: "amd64"})
	require.Contains(t, b.mustCLI("pkg", "add", "--repo", "rev", "--release", "stable", "--key", key, first), "published generation 1")

	revoked := filepath.Join(b.dir, "revoked.pub.asc")
	require.NoError(t, os.WriteFile(revoked, revokedPublicKey(t, key), 0o644))
	require.Contains(t, b.mustCLI("key", "add", "--repo", "rev", revoked), "registered the revocation of key")
	keys, err := c.ListKeys(ctx, "rev")
	require.NoError(t, err)
	require.Len(t, keys, 1, "the revocation replaced the key, it did not add one")
	require.True(t, keys[0].Revoked)

	for i, add := range []string{"", pubKeyFile(key)} {
		if add != "" {
			b.mustCLI("key", "add", "--repo", "rev", add) // the old export cannot undo the revocation
		}
		deb := writeDeb(t, b.dir, debtest.Options{Package: fmt.Sprintf("rev-%d", i+2), Version: "1.0", Architecture: "amd64"})
		out, errOut, code := b.cli(ctx, "pkg", "add", "--timeout", "1m", "--repo", "rev", "--release", "stable", "--key", key, deb)
		require.Equal(t, 1, code, "%s\n%s", out, errOut)
		require.Contains(t, errOut, "revoked_key")
		rel, err := c.GetRelease(ctx, "rev", "stable")
		require.NoError(t, err)
		require.Equal(t, int64(1), rel.Generation, "nothing signed by the revoked key was committed")
		require.Equal(t, int64(1), rel.PublishedGeneration)
	}
	status, _, _ := b.raw(http.MethodGet, "/readyz", "", nil, nil)
	require.Equal(t, http.StatusOK, status)
}
