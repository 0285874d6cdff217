package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// TestCrossTenantIsolation: another tenant's token gets 404 on every route
// that names a tenant's resource, and nothing changes anywhere; the routes
// that list only show its own. The test fails when a /v1 route is added
// without being listed here.
func TestCrossTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	ctx := context.Background()

	// Tenant A: a repository with a key, a release, a package, a job and a round.
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	_, pub, err := sign.GenerateKey("a", "a@example.com")
	require.NoError(t, err)
	var key KeyResponse
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/keys", map[string]string{"armored": string(pub)}, &key))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/releases", map[string]any{"name": "stable"}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "secret", Version: "1.0", Architecture: "amd64"})
	sum := sha256Hex(deb)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sum, deb, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/files/"+sha256Hex(scopedOrig), scopedOrig, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/mine/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}}, &ref))
	job := ref["job_id"]
	repo, err := b.store.Repository(ctx, b.tenant.ID, "mine")
	require.NoError(t, err)
	release, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	lease, ok, err := b.store.AcquireLease(ctx, release.ID, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC().Truncate(time.Second),
		ReleaseBytes: []byte("Origin: mine\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{ref["change_id"]},
		SignatureTimeout: time.Minute})
	require.NoError(t, err)
	tokens, err := b.store.Tokens(ctx, b.tenant.ID)
	require.NoError(t, err)
	hook, _, err := b.store.CreateWebhook(ctx, repo.ID, "https://hooks.example.com/a", []string{store.WebhookFailed})
	require.NoError(t, err)
	hookPath := fmt.Sprintf("/v1/repos/mine/webhooks/%d", hook.ID)

	tables := []string{"repositories", "signing_keys", "releases", "packages", "repository_packages", "changes",
		"rounds", "api_tokens", "river_job", "release_packages", "job_events", "tenants", "webhooks", "webhook_deliveries"}
	before := map[string]int{}
	for _, tbl := range tables {
		before[tbl] = b.count(tbl)
	}

	// Tenant B.
	_, other, err := b.store.CreateTenant(ctx, "other-"+randomSuffix()[:8])
	require.NoError(t, err)
	before["tenants"]++
	before["api_tokens"]++
	b.token = other

	r := func(method, route, path string) struct{ method, route, path string } {
		return struct{ method, route, path string }{method, route, path}
	}
	jobPath, roundPath := fmt.Sprintf("/v1/jobs/%d", job), fmt.Sprintf("/v1/rounds/%d/signature", round.ID)
	keyPath := "/v1/repos/mine/keys/" + key.Fingerprint
	rel := "/v1/repos/mine/releases/stable"
	scoped := []struct{ method, route, path string }{
		r(http.MethodGet, "/v1/repos/:repo", "/v1/repos/mine"),
		r(http.MethodPost, "/v1/repos/:repo/keys", "/v1/repos/mine/keys"),
		r(http.MethodGet, "/v1/repos/:repo/keys", "/v1/repos/mine/keys"),
		r(http.MethodGet, "/v1/repos/:repo/keys/:fingerprint", keyPath),
		r(http.MethodDelete, "/v1/repos/:repo/keys/:fingerprint", keyPath),
		r(http.MethodPost, "/v1/repos/:repo/releases", "/v1/repos/mine/releases"),
		r(http.MethodGet, "/v1/repos/:repo/releases", "/v1/repos/mine/releases"),
		r(http.MethodGet, "/v1/repos/:repo/releases/:release", rel),
		r(http.MethodPatch, "/v1/repos/:repo/releases/:release", rel),
		r(http.MethodDelete, "/v1/repos/:repo/releases/:release", rel),
		r(http.MethodDelete, "/v1/repos/:repo", "/v1/repos/mine"),
		r(http.MethodPost, "/v1/repos/:repo/webhooks", "/v1/repos/mine/webhooks"),
		r(http.MethodGet, "/v1/repos/:repo/webhooks", "/v1/repos/mine/webhooks"),
		r(http.MethodDelete, "/v1/repos/:repo/webhooks/:id", hookPath),
		r(http.MethodGet, "/v1/repos/:repo/webhooks/:id/deliveries", hookPath+"/deliveries"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/changes", rel+"/changes"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/resign", rel+"/resign"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/copy", rel+"/copy"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/removals", rel+"/removals"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/prune", rel+"/prune"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/rollback", rel+"/rollback"),
		r(http.MethodGet, "/v1/repos/:repo/releases/:release/history", rel+"/history"),
		r(http.MethodGet, "/v1/repos/:repo/releases/:release/rounds", rel+"/rounds"),
		r(http.MethodGet, "/v1/repos/:repo/releases/:release/packages", rel+"/packages"),
		r(http.MethodPost, "/v1/repos/:repo/releases/:release/reconcile", rel+"/reconcile"),
		r(http.MethodGet, "/v1/repos/:repo/releases/:release/reconcile", rel+"/reconcile"),
		r(http.MethodHead, "/v1/packages/:sha256", "/v1/packages/"+sum),
		r(http.MethodHead, "/v1/files/:sha256", "/v1/files/"+sha256Hex(scopedOrig)),
		r(http.MethodGet, "/v1/jobs/:id", jobPath),
		r(http.MethodDelete, "/v1/jobs/:id", jobPath),
		r(http.MethodPost, "/v1/jobs/:id/retry", jobPath+"/retry"),
		r(http.MethodGet, "/v1/rounds/:id", fmt.Sprintf("/v1/rounds/%d", round.ID)),
		r(http.MethodPost, "/v1/rounds/:id/signature", roundPath),
		r(http.MethodDelete, "/v1/tokens/:id", fmt.Sprintf("/v1/tokens/%d", tokens[0].ID)),
		r(http.MethodPost, "/v1/tenants", "/v1/tenants"),
		r(http.MethodGet, "/v1/tenants", "/v1/tenants"),
		r(http.MethodGet, "/ui/releases/:tenant/:repo/:release", "/ui/releases/"+b.tenant.Name+"/mine/stable"),
	}
	bodies := map[string]any{
		"/v1/repos/mine/keys":                            map[string]string{"armored": string(pub)},
		"/v1/repos/mine/webhooks":                        map[string]any{"url": "https://hooks.example.com/b"},
		"/v1/repos/mine/releases":                        map[string]any{"name": "evil"},
		"/v1/repos/mine/releases/stable/changes":         map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}},
		"/v1/repos/mine/releases/stable/rollback":        map[string]any{"generation": 1},
		"/v1/repos/mine/releases/stable/copy":            map[string]any{"from_release": "stable", "all": true},
		"/v1/repos/mine/releases/stable/removals":        map[string]any{"component": "main", "specs": []string{"x"}},
		"/v1/repos/mine/releases/stable/prune":           map[string]any{"keep": 1},
		"/v1/repos/mine/releases/stable":                 map[string]any{"label": "evil", "add_architectures": []string{"arm64"}},
		fmt.Sprintf("/v1/rounds/%d/signature", round.ID): map[string]any{"generation": 1, "inrelease": "x", "release_gpg": "y"},
		"/v1/tenants": map[string]any{"name": "evil"},
	}
	for _, c := range scoped {
		status := b.do(c.method, c.path, bodies[c.path], nil)
		require.Equal(t, http.StatusNotFound, status, "%s %s", c.method, c.path)
	}
	// Listing routes show only B's own (nothing).
	var repos struct{ Repos []RepoResponse }
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos", nil, &repos))
	require.Empty(t, repos.Repos)
	var jobs struct{ Jobs []JobResponse }
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/jobs", nil, &jobs))
	require.Empty(t, jobs.Jobs)

	for _, tbl := range tables {
		require.Equal(t, before[tbl], b.count(tbl), "table %s changed", tbl)
	}
	// Updates and delete requests change rows, not counts.
	after, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	require.Equal(t, release, after, "the release row changed")
	var settings, deleting int
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM changes WHERE settings IS NOT NULL),
		(SELECT count(*) FROM repositories WHERE deleting_at IS NOT NULL)`).Scan(&settings, &deleting))
	require.Zero(t, settings+deleting, "an update or a delete request was recorded")

	// Every /v1 route is accounted for: scoped above, or a listing/creation of one's own.
	own := map[string]bool{"GET /v1/repos": true, "POST /v1/repos": true, "GET /v1/jobs": true,
		"GET /v1/tokens": true, "POST /v1/tokens": true, "GET /v1/whoami": true, "PUT /v1/packages/:sha256": true, "GET /v1/audit": true,
		"PUT /v1/files/:sha256": true, "PUT /v1/sources/:sha256": true,
		"POST /v1/ui/codes":    true,
		"GET /v1/openapi.json": true} // the same document for everyone: no tenant's data
	covered := map[string]bool{}
	for _, c := range scoped {
		covered[c.method+" "+c.route] = true
	}
	for _, route := range b.api.echo.Routes() {
		if !strings.HasPrefix(route.Path, "/v1/") || route.Path == "/v1/*" { // echo's not-found route
			continue
		}
		name := route.Method + " " + route.Path
		require.True(t, covered[name] || own[name], "route %s is not checked for tenant isolation", name)
	}
}
