package api

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// scopeFixture is a tenant with two repositories: "mine" holds a key, a
// release, a package, a job and a round awaiting a signature; "other" only
// exists, for a token limited to it.
type scopeFixture struct {
	*bundle
	pub      []byte
	priv     []byte
	signer   *sign.Signer
	sum      string
	deb      []byte
	job      int64
	round    store.Round
	key      string
	disposal int64 // a token the admin routes may revoke
	webhook  int64 // a webhook of "mine" the admin routes may remove
}

func newScopeFixture(t *testing.T) *scopeFixture {
	t.Helper()
	b := setup(t, 1<<20)
	f := &scopeFixture{bundle: b}
	ctx := context.Background()
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "other"}, nil))
	priv, pub, err := sign.GenerateKey("a", "a@example.com")
	require.NoError(t, err)
	f.pub, f.priv = pub, priv
	f.signer, err = sign.ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	var key KeyResponse
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/keys", map[string]string{"armored": string(pub)}, &key))
	f.key = key.Fingerprint
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/releases", map[string]any{"name": "stable"}, nil))
	f.deb = debtest.Build(t, debtest.Options{Package: "scoped", Version: "1.0", Architecture: "amd64"})
	f.sum = sha256Hex(f.deb)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+f.sum, f.deb, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/mine/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": f.sum, "component": "main"}}}, &ref))
	f.job = ref["job_id"]
	repo, err := b.store.Repository(ctx, b.tenant.ID, "mine")
	require.NoError(t, err)
	release, err := b.store.Release(ctx, repo.ID, "stable")
	require.NoError(t, err)
	lease, ok, err := b.store.AcquireLease(ctx, release.ID, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	f.round, err = b.store.CutRound(ctx, store.Cut{Lease: lease, Generation: 1, ReleaseDate: time.Now().UTC().Truncate(time.Second),
		ReleaseBytes: []byte("Origin: mine\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{ref["change_id"]},
		SignatureTimeout: time.Minute})
	require.NoError(t, err)
	disposal, _ := f.token(store.TokenSpec{Name: "disposable", Scope: read})
	f.disposal = disposal.ID
	hook, _, err := b.store.CreateWebhook(ctx, repo.ID, "https://hooks.example.com/aptq", []string{store.WebhookPublished})
	require.NoError(t, err)
	f.webhook = hook.ID
	return f
}

// token creates a token of the fixture's tenant.
func (f *scopeFixture) token(spec store.TokenSpec) (store.Token, string) {
	f.t.Helper()
	spec.TenantID = &f.tenant.ID
	tok, secret, err := f.store.CreateToken(context.Background(), spec)
	require.NoError(f.t, err)
	return tok, secret
}

// snapshot is a digest of every row of the tables a request could change.
func (b *bundle) snapshot() map[string]string {
	b.t.Helper()
	out := map[string]string{}
	for _, tbl := range []string{"tenants", "api_tokens", "repositories", "signing_keys", "releases", "packages",
		"repository_packages", "changes", "rounds", "release_packages", "job_events", "river_job", "audit_log",
		"webhooks", "webhook_deliveries", "uploaded_files", "source_files"} {
		var digest string
		require.NoError(b.t, b.store.Pool.QueryRow(context.Background(),
			`SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+pgx.Identifier{tbl}.Sanitize()+` t`).
			Scan(&digest))
		out[tbl] = digest
	}
	return out
}

// scopedRoute is a request on a route, the scope it needs and whether it
// acts on repository "mine" (so a token limited to "other" is refused).
type scopedRoute struct {
	method, route, path string
	body                any
	need                string
	onMine              bool
}

// operator is above every tenant scope: the routes of operator tokens,
// which answer any tenant token 404, as if they did not exist.
const operator = "operator"

func (f *scopeFixture) routes() []scopedRoute {
	rel := "/v1/repos/mine/releases/stable"
	job := fmt.Sprintf("/v1/jobs/%d", f.job)
	key := "/v1/repos/mine/keys/" + f.key
	hook := fmt.Sprintf("/v1/repos/mine/webhooks/%d", f.webhook)
	inRelease, releaseGPG, err := sign.Sign(f.round.ReleaseBytes, f.signer)
	require.NoError(f.t, err)
	return []scopedRoute{
		{http.MethodGet, "/v1/openapi.json", "/v1/openapi.json", nil, read, false},
		{http.MethodGet, "/v1/whoami", "/v1/whoami", nil, read, false},
		{http.MethodGet, "/v1/jobs", "/v1/jobs?repo=mine", nil, read, true},
		{http.MethodGet, "/v1/jobs/:id", job, nil, read, true},
		{http.MethodGet, "/v1/repos", "/v1/repos", nil, read, false},
		{http.MethodGet, "/v1/repos/:repo", "/v1/repos/mine", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/keys", "/v1/repos/mine/keys", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/keys/:fingerprint", key, nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases", "/v1/repos/mine/releases", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases/:release", rel, nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases/:release/history", rel + "/history", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases/:release/rounds", rel + "/rounds", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases/:release/packages", rel + "/packages", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/releases/:release/reconcile", rel + "/reconcile", nil, read, true},
		{http.MethodGet, "/v1/rounds/:id", fmt.Sprintf("/v1/rounds/%d", f.round.ID), nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/webhooks", "/v1/repos/mine/webhooks", nil, read, true},
		{http.MethodGet, "/v1/repos/:repo/webhooks/:id/deliveries", hook + "/deliveries", nil, read, true},

		{http.MethodHead, "/v1/packages/:sha256", "/v1/packages/" + f.sum, nil, publish, false},
		{http.MethodPut, "/v1/packages/:sha256", "/v1/packages/" + f.sum, f.deb, publish, false},
		{http.MethodHead, "/v1/files/:sha256", "/v1/files/" + sha256Hex(scopedOrig), nil, publish, false},
		{http.MethodPut, "/v1/files/:sha256", "/v1/files/" + sha256Hex(scopedOrig), scopedOrig, publish, false},
		{http.MethodPut, "/v1/sources/:sha256", "/v1/sources/" + sha256Hex(scopedDSC), scopedDSC, publish, false},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/changes", rel + "/changes",
			map[string]any{"adds": []map[string]string{{"sha256": f.sum, "component": "main"}}}, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/copy", rel + "/copy",
			map[string]any{"from_release": "stable", "all": true}, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/removals", rel + "/removals",
			map[string]any{"component": "main", "specs": []string{"scoped"}, "ignore_missing": true}, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/prune", rel + "/prune", map[string]any{"keep": 1}, publish, true},
		{http.MethodPost, "/v1/rounds/:id/signature", fmt.Sprintf("/v1/rounds/%d/signature", f.round.ID),
			map[string]any{"generation": 1, "inrelease": string(inRelease), "release_gpg": string(releaseGPG)}, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/resign", rel + "/resign", nil, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/rollback", rel + "/rollback", map[string]any{"generation": 1}, publish, true},
		{http.MethodPost, "/v1/repos/:repo/releases/:release/reconcile", rel + "/reconcile", nil, publish, true},
		{http.MethodDelete, "/v1/jobs/:id", job, nil, publish, true},
		{http.MethodPost, "/v1/jobs/:id/retry", job + "/retry", nil, publish, true},

		{http.MethodPost, "/v1/repos", "/v1/repos", map[string]string{"name": "evil"}, admin, false},
		{http.MethodPost, "/v1/repos/:repo/keys", "/v1/repos/mine/keys", map[string]string{"armored": string(f.pub)}, admin, true},
		{http.MethodDelete, "/v1/repos/:repo/keys/:fingerprint", key, nil, admin, true},
		{http.MethodPost, "/v1/repos/:repo/releases", "/v1/repos/mine/releases", map[string]any{"name": "evil"}, admin, true},
		{http.MethodPatch, "/v1/repos/:repo/releases/:release", rel, map[string]any{"label": "new"}, admin, true},
		{http.MethodDelete, "/v1/repos/:repo/releases/:release", rel, nil, admin, true},
		{http.MethodDelete, "/v1/repos/:repo", "/v1/repos/mine", nil, admin, true},
		{http.MethodPost, "/v1/repos/:repo/webhooks", "/v1/repos/mine/webhooks",
			map[string]any{"url": "https://hooks.example.com/evil"}, admin, true},
		{http.MethodDelete, "/v1/repos/:repo/webhooks/:id", hook, nil, admin, true},
		{http.MethodGet, "/v1/tokens", "/v1/tokens", nil, admin, false},
		{http.MethodPost, "/v1/tokens", "/v1/tokens", map[string]any{"name": "evil", "scope": "admin"}, admin, false},
		{http.MethodDelete, "/v1/tokens/:id", fmt.Sprintf("/v1/tokens/%d", f.disposal), nil, admin, false},
		{http.MethodGet, "/v1/audit", "/v1/audit", nil, admin, false},

		{http.MethodGet, "/v1/tenants", "/v1/tenants", nil, operator, false},
	}
}

// scopedOrig and scopedDSC are a source package's file and its .dsc.
var (
	scopedOrig = []byte("orig tarball")
	scopedDSC  = []byte(fmt.Sprintf("Format: 1.0\nSource: scoped\nVersion: 1.0\nFiles:\n %x 12 scoped_1.0.tar.gz\n"+
		"Checksums-Sha256:\n %x 12 scoped_1.0.tar.gz\n", md5.Sum(scopedOrig), sha256.Sum256(scopedOrig)))
)

// TestRouteScopes: every /v1 route × every kind of tenant token. A token
// whose scope is too low, or which is limited to another repository, gets
// 403 forbidden and nothing changes in any table; the others are not
// refused. The test fails when a /v1 route is added without being listed.
func TestRouteScopes(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	_, readToken := f.token(store.TokenSpec{Name: "reader", Scope: read})
	_, publishToken := f.token(store.TokenSpec{Name: "ci", Scope: publish})
	_, limitedToken := f.token(store.TokenSpec{Name: "ci-other", Scope: publish, Repos: []string{"other"}})
	_, adminToken := f.token(store.TokenSpec{Name: "admin", Scope: admin})
	tokens := []struct {
		name, secret string
		forbidden    func(r scopedRoute) bool
	}{
		{"read", readToken, func(r scopedRoute) bool { return r.need != read }},
		{"publish limited to another repository", limitedToken, func(r scopedRoute) bool { return r.need == admin || r.onMine }},
		{"publish", publishToken, func(r scopedRoute) bool { return r.need == admin }},
		{"admin", adminToken, func(scopedRoute) bool { return false }},
	}
	routes := f.routes()

	before := f.snapshot()
	for _, tok := range tokens {
		f.bundle.token = tok.secret
		for _, r := range routes {
			if r.need == operator {
				f.expectError(r.method, r.path, r.body, http.StatusNotFound, store.CodeNotFound)
				require.Equal(t, before, f.snapshot(), "%s token: %s %s changed something", tok.name, r.method, r.path)
				continue
			}
			if !tok.forbidden(r) {
				continue
			}
			if r.method == http.MethodHead {
				require.Equal(t, http.StatusForbidden, f.do(r.method, r.path, nil, nil), "%s token: HEAD %s", tok.name, r.path)
			} else {
				e := f.expectError(r.method, r.path, r.body, http.StatusForbidden, codeForbidden)
				if r.need != read && !strings.Contains(e.Message, "repositories") {
					require.Contains(t, e.Message, "scope "+r.need, "%s token: %s %s", tok.name, r.method, r.path)
				}
			}
			require.Equal(t, before, f.snapshot(), "%s token: %s %s changed something", tok.name, r.method, r.path)
		}
	}
	// Then the allowed requests, least power first (they may change things).
	for _, tok := range tokens {
		f.bundle.token = tok.secret
		for _, r := range routes {
			if tok.forbidden(r) || r.need == operator {
				continue
			}
			status := f.do(r.method, r.path, r.body, nil)
			require.NotEqual(t, http.StatusForbidden, status, "%s token: %s %s", tok.name, r.method, r.path)
			require.Less(t, status, 500, "%s token: %s %s", tok.name, r.method, r.path)
		}
	}

	// An operator token may use the operator routes.
	_, f.bundle.token, _ = f.store.CreateToken(context.Background(), store.TokenSpec{Name: "operator"})
	for _, r := range routes {
		if r.need == operator {
			require.Equal(t, http.StatusOK, f.do(r.method, r.path, r.body, nil), "operator token: %s %s", r.method, r.path)
		}
	}

	// Every /v1 route is in the matrix, or open to operators only.
	operatorOnly := map[string]bool{"POST /v1/tenants": true, "POST /v1/ui/codes": true}
	listed := map[string]bool{}
	for _, r := range routes {
		listed[r.method+" "+r.route] = true
	}
	for _, route := range f.api.echo.Routes() {
		if !strings.HasPrefix(route.Path, "/v1/") || route.Path == "/v1/*" {
			continue
		}
		name := route.Method + " " + route.Path
		require.True(t, listed[name] || operatorOnly[name], "route %s has no row in the scope matrix", name)
	}
}

// TestRepoLimitedListings: a token limited to some repositories lists only
// those, and their jobs.
func TestRepoLimitedListings(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	_, limited := f.token(store.TokenSpec{Name: "ci-other", Scope: read, Repos: []string{"other"}})
	f.bundle.token = limited
	var repos struct{ Repos []RepoResponse }
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/repos", nil, &repos))
	require.Len(t, repos.Repos, 1)
	require.Equal(t, "other", repos.Repos[0].Name)
	var jobs struct{ Jobs []JobResponse }
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/jobs", nil, &jobs))
	require.Empty(t, jobs.Jobs, "the job of repository mine is not listed")
	var who map[string]any
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/whoami", nil, &who))
	require.Equal(t, "read", who["scope"])
	require.Equal(t, []any{"other"}, who["repos"])
}

// TestTokenCreation: the scope is required and checked; an admin token is
// never limited to repositories; a limited token names existing ones; the
// list shows scope and repositories. Refusals create nothing.
func TestTokenCreation(t *testing.T) {
	t.Parallel()
	f := newScopeFixture(t)
	tokensBefore := f.count("api_tokens")
	for _, body := range []map[string]any{
		{"name": "x"},
		{"name": "x", "scope": "root"},
		{"name": "x", "scope": "admin", "repos": []string{"mine"}},
		{"name": "x", "scope": "publish", "repos": []string{}},
		{"name": "x", "scope": "publish", "repos": []string{"mine", "typo"}},
	} {
		f.expectError(http.MethodPost, "/v1/tokens", body, http.StatusUnprocessableEntity, store.CodeInvalid)
	}
	require.Equal(t, tokensBefore, f.count("api_tokens"))

	var created TokenResponse
	require.Equal(t, http.StatusCreated, f.do(http.MethodPost, "/v1/tokens",
		map[string]any{"name": "ci", "scope": "publish", "repos": []string{"mine"}}, &created))
	require.Equal(t, "publish", created.Scope)
	require.Equal(t, []string{"mine"}, created.Repos)
	require.NotEmpty(t, created.Token)

	var list struct{ Tokens []TokenResponse }
	require.Equal(t, http.StatusOK, f.do(http.MethodGet, "/v1/tokens", nil, &list))
	require.Equal(t, "ci", list.Tokens[0].Name)
	require.Equal(t, []string{"mine"}, list.Tokens[0].Repos)
	initial := list.Tokens[len(list.Tokens)-1]
	require.Equal(t, "initial", initial.Name)
	require.Equal(t, "admin", initial.Scope, "a tenant's first token is admin")
	require.Nil(t, initial.Repos)

	// The new publish token cannot make itself an admin token.
	f.bundle.token = created.Token
	f.expectError(http.MethodPost, "/v1/tokens", map[string]any{"name": "up", "scope": "admin"},
		http.StatusForbidden, codeForbidden)
	require.Equal(t, tokensBefore+1, f.count("api_tokens"))
}
