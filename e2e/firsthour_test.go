package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/sign"
)

// With APTQ_METRICS_LISTEN, /metrics is served there and not on the API's
// port, which may face the internet.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	metricsAddr := systest.FreeAddr(t)
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_METRICS_LISTEN=" + metricsAddr}})
	ctx := context.Background()

	_, status, err := get(ctx, b.URL+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status, "the API port must not serve /metrics")

	body, status, err := get(ctx, "http://"+metricsAddr+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	// The API's own requests are counted there: one registry, two doors.
	require.Contains(t, string(body), `aptq_http_requests_total{method="GET",route="/readyz",status="200"}`)

	_, status, err = get(ctx, "http://"+metricsAddr+"/v1/whoami")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status, "the metrics listener serves /metrics only")
}

// aptq tenant list shows an operator every tenant with what it holds; a
// tenant's token is not an operator's.
func TestTenantList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.repoWithKey("one", "stable")
	b.mustCLI("repo", "create", "two")
	b.mustCLI("token", "create", "ci", "--scope", "publish")
	op := b.operatorToken()
	opEnv := []string{"APTQ_TOKEN=" + op}

	out := b.cliMust(opEnv, "tenant", "list")
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == b.Tenant {
			row = f
		}
	}
	require.NotNil(t, row, out)
	require.Equal(t, []string{"2", "2"}, row[len(row)-2:], "repositories and live tokens (initial + ci):\n%s", out)
	require.Regexp(t, `(?m)^ID\s+NAME\s+CREATED\s+REPOS\s+TOKENS$`, out)

	var list struct {
		Tenants []struct {
			ID           int64     `json:"id"`
			Name         string    `json:"name"`
			CreatedAt    time.Time `json:"created_at"`
			Repositories int       `json:"repositories"`
			Tokens       int       `json:"tokens"`
		} `json:"tenants"`
	}
	require.NoError(t, json.Unmarshal([]byte(b.cliMust(opEnv, "tenant", "list", "--json")), &list))
	require.Len(t, list.Tenants, 1)
	require.Equal(t, b.Tenant, list.Tenants[0].Name)
	require.Equal(t, b.tenantID(t), list.Tenants[0].ID)
	require.Equal(t, 2, list.Tenants[0].Repositories)
	require.Equal(t, 2, list.Tenants[0].Tokens)
	require.False(t, list.Tenants[0].CreatedAt.IsZero())

	_, errOut, code := b.cli(context.Background(), "tenant", "list")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "not_found")
}

// aptq ui prints a one-time login link; the page's button (a same-origin
// POST of it) signs the browser in, and --open hands it to xdg-open.
func TestUILoginLinkFromCLI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	op := b.operatorToken()

	link := strings.TrimSpace(b.cliMust([]string{"APTQ_TOKEN=" + op}, "ui"))
	require.True(t, strings.HasPrefix(link, b.URL+"/ui/login/"), link)
	a := b.uiRequest(http.MethodPost, strings.TrimPrefix(link, b.URL), url.Values{}, map[string]string{"Origin": b.URL}, "")
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.NotNil(t, a.cookie)
	b.requireSignedIn(a.cookie.Value, true)

	// --open: a stand-in xdg-open records what it was asked to open.
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "xdg-open"),
		[]byte("#!/bin/sh\necho \"$1\" >"+opened+"\n"), 0o755))
	link = strings.TrimSpace(b.cliMust([]string{"APTQ_TOKEN=" + op, "PATH=" + dir + ":" + os.Getenv("PATH")}, "ui", "--open"))
	got, err := os.ReadFile(opened)
	require.NoError(t, err)
	require.Equal(t, link, strings.TrimSpace(string(got)))

	// A tenant's token gets no link, and is told what it needs.
	_, errOut, code := b.cli(context.Background(), "ui")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "aptq: forbidden: the operator page needs an operator token")
}

// aptq job list says what each job did, and shows operators the tenant.
func TestJobKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	key := b.repoWithKey("kinds", "stable")
	dir := t.TempDir()
	rel := []string{"--repo", "kinds", "--release", "stable", "--key", key}

	b.mustCLI(append([]string{"pkg", "add"}, append(rel, writeDeb(t, dir, debtest.Options{Package: "alpha", Version: "1.0", Architecture: "amd64"}))...)...)
	// One change that adds and removes: only the API makes one.
	c := client.New(b.URL, b.Token)
	deb := debtest.Build(t, debtest.Options{Package: "beta", Version: "1.0", Architecture: "amd64"})
	sum := sha256.Sum256(deb)
	_, err := c.UploadPackage(ctx, hex.EncodeToString(sum[:]), bytes.NewReader(deb), int64(len(deb)))
	require.NoError(t, err)
	ref, err := c.SubmitChange(ctx, "kinds", "stable", client.ChangeRequest{
		Adds:    []client.Add{{SHA256: hex.EncodeToString(sum[:]), Component: "main"}},
		Removes: []client.Remove{{Name: "alpha", Version: "1.0", Architecture: "amd64", Component: "main"}}})
	require.NoError(t, err)
	private, err := os.ReadFile(key)
	require.NoError(t, err)
	signer, err := sign.ParsePrivateKey(private, nil)
	require.NoError(t, err)
	require.Equal(t, client.JobPublished, follow(ctx, t, c, ref.JobID, signer).State)
	require.Contains(t, b.mustCLI("job", "show", strconv.FormatInt(ref.JobID, 10)), "\nkind: add+remove\n")
	b.mustCLI(append([]string{"pkg", "remove"}, append(rel, "beta=1.0:amd64")...)...)
	b.mustCLI(append([]string{"release", "resign"}, rel...)...)
	b.mustCLI(append([]string{"release", "rollback", "--to-generation", "1"}, rel...)...)

	want := []string{"rollback", "resign", "remove", "add+remove", "add"} // newest first
	var page struct {
		Jobs []struct {
			Kind   string `json:"kind"`
			Tenant string `json:"tenant"`
		} `json:"jobs"`
	}
	require.NoError(t, json.Unmarshal([]byte(b.mustCLI("job", "list", "--json")), &page))
	var kinds []string
	for _, j := range page.Jobs {
		kinds = append(kinds, j.Kind)
		require.Empty(t, j.Tenant, "a tenant's own jobs do not name it")
	}
	require.Equal(t, want, kinds)

	out := b.mustCLI("job", "list")
	require.Regexp(t, `(?m)^JOB\s+KIND\s+REPO\s+RELEASE\s+STATE`, out)
	require.NotContains(t, out, "TENANT")
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
	require.Len(t, lines, len(want))
	for i, line := range lines {
		require.Equal(t, want[i], strings.Fields(line)[1], line)
	}

	// An operator sees whose jobs they are.
	out = b.cliMust([]string{"APTQ_TOKEN=" + b.operatorToken()}, "job", "list")
	require.Regexp(t, `(?m)^JOB\s+KIND\s+TENANT\s+REPO`, out)
	lines = strings.Split(strings.TrimSpace(out), "\n")[1:]
	require.Len(t, lines, len(want))
	for i, line := range lines {
		f := strings.Fields(line)
		require.Equal(t, []string{want[i], b.Tenant, "kinds"}, f[1:4], line)
	}
}
