package api

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// another starts a second API server on the bundle's database, as a second
// `aptqd api` process would be, with its own external URL ("" for its own
// address) and any extra routes a test needs.
func (b *bundle) another(externalURL string, routes ...func(*echo.Echo)) *bundle {
	b.t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg := b.api.cfg
	cfg.ExternalURL = externalURL
	if externalURL == "" {
		cfg.ExternalURL = "http://" + ts.Listener.Addr().String()
	}
	srv := New(cfg)
	for _, r := range routes {
		r(srv.echo)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	b.t.Cleanup(ts.Close)
	other := *b
	other.server, other.api = ts, srv
	return &other
}

// requireUp checks that a server still answers after an attack.
func (b *bundle) requireUp() {
	b.t.Helper()
	resp, err := http.Get(b.server.URL + "/healthz")
	require.NoError(b.t, err)
	resp.Body.Close()
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
}

// TestUISessionsAcrossServers replays a copied cookie after a logout and a
// login link used twice, on two API servers sharing one database: a spent
// code and a signed-out or revoked session are dead on both.
func TestUISessionsAcrossServers(t *testing.T) {
	t.Parallel()
	a := setup(t, 1<<20)
	b := a.another("")
	opTok, op := a.operator()

	// A link used on one server cannot be used again on the other, either way round.
	for _, pair := range [][2]*bundle{{a, b}, {b, a}} {
		first, second := pair[0], pair[1]
		code := path.Base(second.loginLink(op))
		r := first.uiDo(http.MethodPost, "/ui/login/"+code, nil, nil, "")
		require.Equal(t, http.StatusSeeOther, r.status)
		require.NotNil(t, r.cookie)
		sessions := a.count("ui_sessions")
		r = second.uiDo(http.MethodPost, "/ui/login/"+code, nil, nil, "")
		require.Equal(t, http.StatusUnauthorized, r.status, "the second use of a code")
		require.Contains(t, r.body, "already used")
		require.Nil(t, r.cookie)
		require.Equal(t, sessions, a.count("ui_sessions"), "no session started")
	}

	// A session signed out on one server is signed out on the other.
	r := a.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, nil, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	stolen := r.cookie.Value
	require.Equal(t, http.StatusOK, a.uiDo(http.MethodGet, "/ui/", nil, nil, stolen).status)
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, stolen).status)
	require.Equal(t, http.StatusSeeOther, b.uiDo(http.MethodPost, "/ui/logout", nil, nil, stolen).status)
	for _, srv := range []*bundle{a, b} {
		r = srv.uiDo(http.MethodGet, "/ui/", nil, nil, stolen)
		require.Equal(t, http.StatusSeeOther, r.status, "a copy of a signed-out cookie")
		require.Equal(t, "/ui/login", r.header.Get("Location"))
		r = srv.uiDo(http.MethodGet, "/ui/", nil, map[string]string{"Accept": "application/json"}, stolen)
		require.NotContains(t, r.body, "operator overview")
	}

	// Revoking the operator token ends its sessions on every server.
	r = a.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, nil, "")
	live := r.cookie.Value
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, live).status)
	_, err := a.store.Pool.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, opTok.ID)
	require.NoError(t, err)
	for _, srv := range []*bundle{a, b} {
		require.Equal(t, http.StatusSeeOther, srv.uiDo(http.MethodGet, "/ui/", nil, nil, live).status)
		srv.requireUp()
	}
}

// TestUILinksIgnoreHost replays host-header injection: whatever Host or
// forwarding headers a request carries, login links and repository URLs
// point at the configured external URL.
func TestUILinksIgnoreHost(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	_, op := b.operator()
	configured := b.another("https://aptq.example.com")
	evil := []map[string]string{
		{"Host": "evil.example"},
		{"Host": "evil.example:8443", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
		{"Forwarded": "proto=https;host=evil.example", "X-Forwarded-Ssl": "on"},
	}
	for _, srv := range []*bundle{b, configured} {
		for _, h := range evil {
			r := srv.uiDo(http.MethodPost, "/v1/ui/codes", nil, map[string]string{"Authorization": "Bearer " + op,
				"Host": h["Host"], "X-Forwarded-Proto": h["X-Forwarded-Proto"], "X-Forwarded-Host": h["X-Forwarded-Host"],
				"Forwarded": h["Forwarded"], "X-Forwarded-Ssl": h["X-Forwarded-Ssl"], "Origin": ""}, "")
			require.Equal(t, http.StatusCreated, r.status, r.body)
			require.Contains(t, r.body, `"url":"`+srv.api.cfg.ExternalURL+`/ui/login/`, h)
			require.NotContains(t, r.body, "evil", h)
		}
	}

	// Repository and job URLs, which the CLI prints and users paste into sources.list.
	headers := map[string]string{"Authorization": "Bearer " + b.token, "Host": "evil.example", "X-Forwarded-Proto": "https"}
	want := b.server.URL + "/apt/" + b.tenant.Name + "/web"
	r := b.uiDo(http.MethodPost, "/v1/repos", nil, headers, "")
	require.Equal(t, http.StatusBadRequest, r.status, "no body: the repository is made below")
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "web"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/web/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	r = b.uiDo(http.MethodGet, "/v1/repos/web", nil, headers, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `"url":"`+want+`"`)
	deb := debtest.Build(t, debtest.Options{Package: "hosted", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	var job map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/web/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}}, &job))
	r = b.uiDo(http.MethodGet, fmt.Sprintf("/v1/jobs/%d", job["job_id"]), nil, headers, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `"url":"`+want+`"`)
	require.NotContains(t, r.body, "evil")
}

// TestUICookieSecure: the cookie's Secure flag follows the external URL's
// scheme, not X-Forwarded-Proto or Forwarded, which any client can send.
func TestUICookieSecure(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	_, op := b.operator()
	for _, h := range []map[string]string{{"X-Forwarded-Proto": "https"}, {"Forwarded": "proto=https"}, {"X-Forwarded-Ssl": "on"}} {
		r := b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, h, "")
		require.Equal(t, http.StatusSeeOther, r.status)
		require.False(t, r.cookie.Secure, "an http external URL, whatever %v says", h)
	}

	tls := b.another("https://aptq.example.com")
	origin := map[string]string{"Origin": "https://aptq.example.com"}
	r := tls.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, origin, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.True(t, r.cookie.Secure, "an https external URL, with no forwarding header")
	r = tls.uiDo(http.MethodPost, "/ui/login/"+path.Base(tls.loginLinkAt(op, "https://aptq.example.com")), nil, origin, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.True(t, r.cookie.Secure, "a login link")
	r = tls.uiDo(http.MethodPost, "/ui/logout", nil, origin, r.cookie.Value)
	require.True(t, r.cookie.Secure, "signing out")
}

// loginLinkAt asks for a login link and checks it points at base.
func (b *bundle) loginLinkAt(token, base string) string {
	b.t.Helper()
	r := b.uiDo(http.MethodPost, "/v1/ui/codes", nil, map[string]string{"Authorization": "Bearer " + token}, "")
	require.Equal(b.t, http.StatusCreated, r.status)
	var out struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.NoError(b.t, jsonDecode(strings.NewReader(r.body), &out))
	require.True(b.t, strings.HasPrefix(out.URL, base+"/ui/login/"), out.URL)
	return out.URL
}

// TestUICrossOrigin replays login CSRF and cross-site sign-outs: every POST
// under /ui/ without an Origin or Referer of the page itself gets 403
// cross_origin and changes nothing.
func TestUICrossOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	_, op := b.operator()
	session := b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, nil, "").cookie.Value

	var posts []string
	for _, rt := range b.api.echo.Routes() {
		if rt.Method == http.MethodPost && strings.HasPrefix(rt.Path, "/ui/") {
			posts = append(posts, rt.Path)
		}
	}
	require.Subset(t, posts, []string{"/ui/login", "/ui/login/:code", "/ui/logout"})
	sessions := b.count("ui_sessions")
	for _, p := range posts {
		for _, h := range []map[string]string{
			{"Origin": "https://evil.example"},
			{"Origin": "null"},
			{"Origin": ""},
			{"Origin": "", "Referer": "https://evil.example/aptq"},
			{"Origin": strings.Replace(b.server.URL, "http:", "https:", 1) + "1"}, // another port
			{"Origin": "https://evil.example", "Referer": b.server.URL + "/ui/login"},
		} {
			r := b.uiDo(http.MethodPost, p, url.Values{"token": {op}}, h, session)
			require.Equal(t, http.StatusForbidden, r.status, "%s %v", p, h)
			require.Contains(t, r.body, `"code":"cross_origin"`, "%s %v", p, h)
			require.Nil(t, r.cookie, "%s %v", p, h)
		}
	}
	require.Equal(t, sessions, b.count("ui_sessions"), "no login")
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, session).status, "no logout")
	b.requireUp()

	// The page itself: a Referer when a browser sends no Origin, or the
	// host the request went to (a name other than the external URL's).
	for _, h := range []map[string]string{
		{"Origin": "", "Referer": b.server.URL + "/ui/login"},
		{"Origin": "http://aptq.internal:8080", "Host": "aptq.internal:8080"},
	} {
		r := b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, h, "")
		require.Equal(t, http.StatusSeeOther, r.status, h)
		require.NotNil(t, r.cookie)
	}
}

// autoSubmitting starts a server like b's with a test page,
// /ui/test-autosubmit?action=…[&token=…], that posts a form at once, as a
// person pressing its button would: it has the page's origin and headers,
// except the CSP, relaxed for its one script.
func (b *bundle) autoSubmitting() *bundle {
	b.t.Helper()
	page := template.Must(template.New("").Parse(`<!doctype html><form method="post" action="{{.Action}}">` +
		`{{with .Token}}<input name="token" value="{{.}}">{{end}}</form><script>document.forms[0].submit()</script>`))
	return b.another("", func(e *echo.Echo) {
		e.GET("/ui/test-autosubmit", func(c echo.Context) error {
			uiHeaders(c.Response().Header())
			c.Response().Header().Del("Content-Security-Policy")
			var buf bytes.Buffer
			if err := page.Execute(&buf, map[string]string{"Action": c.QueryParam("action"), "Token": c.QueryParam("token")}); err != nil {
				return err
			}
			return c.HTMLBlob(http.StatusOK, buf.Bytes())
		})
	})
}

// pressLink returns the test page that opens a new login link and presses its button.
func (b *bundle) pressLink(op string) string {
	b.t.Helper()
	link := strings.TrimPrefix(b.loginLink(op), b.server.URL)
	return b.server.URL + "/ui/test-autosubmit?action=" + url.QueryEscape(link)
}

// TestUILoginFormInChromium signs in with the form in a real browser (whose
// Origin header the page's Referrer-Policy decides), and replays login
// CSRF: a page on another site that submits the form gets 403.
func TestUILoginFormInChromium(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	b := setup(t, 1<<20)
	_, op := b.operator()
	own := b.autoSubmitting()
	dom := runChromium(t, chromium, own.server.URL+"/ui/test-autosubmit?action=/ui/login&token="+url.QueryEscape(op),
		"--dump-dom", "--virtual-time-budget=3000")
	require.Contains(t, dom, "aptq operator overview")
	require.Contains(t, dom, "Sign out", "signed in:\n%s", dom)

	sessions := b.count("ui_sessions")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<!doctype html><form method="post" action="` + b.server.URL + `/ui/login">` +
			`<input name="token" value="` + op + `"></form><script>document.forms[0].submit()</script>`))
	}))
	t.Cleanup(evil.Close)
	dom = runChromium(t, chromium, evil.URL, "--dump-dom", "--virtual-time-budget=3000")
	require.Contains(t, dom, "cross_origin", "a login from another site:\n%s", dom)
	require.Equal(t, sessions, b.count("ui_sessions"))
	b.requireUp()
}
