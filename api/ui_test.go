package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

// uiClient does not follow redirects, so tests see them.
var uiClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type uiResponse struct {
	status int
	header http.Header
	body   string
	cookie *http.Cookie // aptq_ui, when set
}

// uiDo sends a request to the page with optional headers (an empty value
// removes one; "Host" sets the request's host) and cookie. A POST carries the page's Origin, as from a browser.
func (b *bundle) uiDo(method, path string, form url.Values, header map[string]string, cookie string) uiResponse {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.server.URL+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", b.server.URL) // as a browser sends it from the page
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: uiCookie, Value: cookie})
	}
	resp, err := uiClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	out := uiResponse{status: resp.StatusCode, header: resp.Header, body: string(data)}
	for _, c := range resp.Cookies() {
		if c.Name == uiCookie {
			out.cookie = c
		}
	}
	return out
}

// operator creates an operator token.
func (b *bundle) operator() (store.Token, string) {
	b.t.Helper()
	tok, secret, err := b.store.CreateToken(context.Background(), store.TokenSpec{Name: "ops"})
	require.NoError(b.t, err)
	return tok, secret
}

// loginLink asks for a one-time login link with an operator token.
func (b *bundle) loginLink(token string) string {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.server.URL+"/v1/ui/codes", nil)
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	var out struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.Equal(b.t, http.StatusCreated, resp.StatusCode)
	require.NoError(b.t, jsonDecode(resp.Body, &out))
	require.True(b.t, strings.HasPrefix(out.URL, b.server.URL+"/ui/login/"), out.URL)
	require.WithinDuration(b.t, time.Now().Add(loginCodeTTL), out.ExpiresAt, 5*time.Second)
	return out.URL
}

func jsonDecode(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestUIAuth: the page needs an operator; a browser signs in with the form
// or a one-time link and gets a session cookie that dies with its token.
func TestUIAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	opTok, op := b.operator()

	r := b.uiDo(http.MethodGet, "/ui/", nil, nil, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/ui/login", r.header.Get("Location"))
	require.Equal(t, "/ui/", b.uiDo(http.MethodGet, "/ui", nil, nil, "").header.Get("Location"))

	// Scripts: a bearer token, answered like the API.
	r = b.uiDo(http.MethodGet, "/ui/", nil, map[string]string{"Authorization": "Bearer " + b.token}, "")
	require.Equal(t, http.StatusForbidden, r.status, "a tenant token: the page shows every tenant")
	require.Contains(t, r.body, `"code":"forbidden"`)
	r = b.uiDo(http.MethodGet, "/ui/", nil, map[string]string{"Authorization": "Bearer aptq_nope"}, "")
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = b.uiDo(http.MethodGet, "/ui/", nil, map[string]string{"Authorization": "Bearer " + op}, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
	require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Contains(t, r.body, `<meta http-equiv="refresh" content="5">`)
	require.NotContains(t, r.body, "<script")
	r = b.uiDo(http.MethodGet, "/ui/?refresh=0", nil, map[string]string{"Authorization": "Bearer " + op}, "")
	require.NotContains(t, r.body, `http-equiv="refresh"`)

	// The form.
	r = b.uiDo(http.MethodGet, "/ui/login", nil, nil, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `name="token"`)
	r = b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {b.token}}, nil, "")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "tenant token cannot open the operator page")
	require.Nil(t, r.cookie)
	r = b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {"aptq_nope"}}, nil, "")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Contains(t, r.body, "invalid or revoked token")
	require.Nil(t, r.cookie)
	r = b.uiDo(http.MethodPost, "/ui/login", url.Values{"token": {op}}, nil, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/ui/", r.header.Get("Location"))
	session := r.cookie
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.False(t, session.Secure, "plain HTTP")
	require.Equal(t, "/ui/", session.Path)
	require.Equal(t, int(sessionTTL.Seconds()), session.MaxAge)
	require.NotContains(t, session.Value, op, "the cookie never holds the token")
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, session.Value).status)

	// Unknown, tampered or expired sessions, and login codes, send the browser to sign in.
	ctx := context.Background()
	tampered := []byte(session.Value)
	tampered[len(tampered)-2] ^= 1
	code := path.Base(b.loginLink(op))
	expired, err := b.store.CreateUISession(ctx, opTok.ID, -time.Second)
	require.NoError(t, err)
	for name, v := range map[string]string{"tampered": string(tampered), "garbage": "x", "login code as session": code,
		"expired": expired} {
		r = b.uiDo(http.MethodGet, "/ui/", nil, nil, v)
		require.Equal(t, http.StatusSeeOther, r.status, name)
		require.Equal(t, "/ui/login", r.header.Get("Location"), name)
	}

	// One-time login links: for operators only, once, within a minute.
	require.Equal(t, http.StatusNotFound, b.do(http.MethodPost, "/v1/ui/codes", nil, nil), "a tenant token")
	link := strings.TrimPrefix(b.loginLink(op), b.server.URL)
	sessions := b.count("ui_sessions")
	for range 2 { // a link preview, then the operator: opening a link changes nothing
		r = b.uiDo(http.MethodGet, link, nil, nil, "")
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, r.body, `<form method="post" action="`+link+`">`)
		require.Nil(t, r.cookie)
		require.Equal(t, sessions, b.count("ui_sessions"))
	}
	for _, crafted := range []string{"/ui/login/..%2Flogout", "/ui/login/%22%3E%3Cb%3E", "/ui/login/x"} {
		r = b.uiDo(http.MethodGet, crafted, nil, nil, "")
		require.Equal(t, http.StatusUnauthorized, r.status, crafted)
		require.Contains(t, r.body, "login link is invalid", crafted)
		require.NotContains(t, r.body, "/ui/login/", crafted)
	}
	r = b.uiDo(http.MethodPost, link, nil, nil, "")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/ui/", r.header.Get("Location"))
	linkSession := r.cookie
	require.NotNil(t, linkSession)
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, linkSession.Value).status)
	r = b.uiDo(http.MethodPost, link, nil, nil, "")
	require.Equal(t, http.StatusUnauthorized, r.status, "a link works once")
	require.Contains(t, r.body, "already used")
	require.Nil(t, r.cookie)
	expiredCode, _, err := b.store.CreateLoginCode(ctx, opTok.ID, -time.Second)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, b.uiDo(http.MethodPost, "/ui/login/"+expiredCode, nil, nil, "").status)
	require.Equal(t, http.StatusUnauthorized, b.uiDo(http.MethodPost, "/ui/login/"+session.Value, nil, nil, "").status,
		"a session is not a login code")

	// Signing out clears the cookie and ends the session: a copy of the cookie is worthless.
	r = b.uiDo(http.MethodPost, "/ui/logout", nil, nil, session.Value)
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/ui/login", r.header.Get("Location"))
	require.NotNil(t, r.cookie)
	require.Empty(t, r.cookie.Value)
	require.Negative(t, r.cookie.MaxAge)
	r = b.uiDo(http.MethodGet, "/ui/", nil, nil, session.Value)
	require.Equal(t, http.StatusSeeOther, r.status, "the signed-out session's cookie")
	require.Equal(t, "/ui/login", r.header.Get("Location"))
	require.Equal(t, http.StatusOK, b.uiDo(http.MethodGet, "/ui/", nil, nil, linkSession.Value).status,
		"other sessions go on")

	// Revoking the token ends its sessions and links.
	fresh := b.loginLink(op)
	_, err = b.store.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, opTok.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, b.uiDo(http.MethodGet, "/ui/", nil, nil, linkSession.Value).status)
	require.Equal(t, http.StatusUnauthorized, b.uiDo(http.MethodPost, strings.TrimPrefix(fresh, b.server.URL), nil, nil, "").status)
}

// TestUIInChromium loads the page in a real headless Chromium through a
// login link, checks what it shows and saves a screenshot. (A virtual time
// budget lets Chromium follow the link's form before it dumps the page,
// and ends before the page's 5 s refresh.)
func TestUIInChromium(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	b := setup(t, 1<<20)
	ctx := context.Background()

	// A release with a worker's lease and a round awaiting its signature,
	// and a second change queued behind it.
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "web"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/web/releases",
		map[string]any{"name": "bookworm-ui", "architectures": []string{"amd64"}}, nil))
	var jobs [2]map[string]int64
	for i, name := range []string{"hello-ui", "world-ui"} {
		deb := debtest.Build(t, debtest.Options{Package: name, Version: "1.0", Architecture: "amd64"})
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
		require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/web/releases/bookworm-ui/changes",
			map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}}, &jobs[i]))
	}
	repo, err := b.store.Repository(ctx, b.tenant.ID, "web")
	require.NoError(t, err)
	rel, err := b.store.Release(ctx, repo.ID, "bookworm-ui")
	require.NoError(t, err)
	// As if three generations were committed and two published.
	_, err = b.store.Pool.Exec(ctx, `UPDATE releases SET generation = 3, published_generation = 2 WHERE id = $1`, rel.ID)
	require.NoError(t, err)
	lease, ok, err := b.store.AcquireLease(ctx, rel.ID, "worker-ui-7", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := b.store.CutRound(ctx, store.Cut{Lease: lease, Generation: 4, ReleaseDate: time.Now().UTC(),
		ReleaseBytes: []byte("Origin: web\n"), Files: []store.IndexFile{}, ChangeIDs: []int64{jobs[0]["change_id"]},
		SignatureTimeout: 5 * time.Minute})
	require.NoError(t, err)

	_, op := b.operator()
	own := b.autoSubmitting()
	dom := runChromium(t, chromium, own.pressLink(op), "--dump-dom", "--virtual-time-budget=3000")
	require.NotContains(t, dom, `name="token"`, "signed in, not the login form:\n%s", dom)
	require.Contains(t, dom, "aptq operator overview")
	checkRow := func(id string, want ...string) {
		t.Helper()
		m := regexp.MustCompile(`(?s)<tr id="` + id + `">(.*?)</tr>`).FindStringSubmatch(dom)
		require.NotNil(t, m, "no row %s in the page as Chromium rendered it:\n%s", id, dom)
		for _, w := range want {
			require.Contains(t, m[1], w, "row %s", id)
		}
	}
	checkRow(fmt.Sprintf("release-%d", rel.ID), b.tenant.Name, "<strong>bookworm-ui</strong>",
		`<td class="n">3</td>`, `<td class="n behind">2</td>`, // generation, published and behind
		"worker-ui-7", fmt.Sprintf("#%d gen 4", round.ID), "awaiting_signature", `<td class="n">1</td>`)
	checkRow("round-"+strconv.FormatInt(round.ID, 10), "bookworm-ui", `<td class="n">4</td>`, "awaiting_signature")
	checkRow("job-"+strconv.FormatInt(jobs[0]["job_id"], 10), "awaiting_signature",
		"<strong>enqueued</strong>", "<strong>round_cut</strong>", "worker=worker-ui-7")
	checkRow("job-"+strconv.FormatInt(jobs[1]["job_id"], 10), "queued", "<strong>enqueued</strong>",
		`<td class="submitter">initial <span class="muted">token`) // who submitted it
	require.Regexp(t, `<td class="mono">publish_\d\d</td><td class="n">2</td>`, dom, "two available jobs in a publish queue")

	png := filepath.Join(t.TempDir(), "ui.png")
	runChromium(t, chromium, own.pressLink(op), "--screenshot="+png, "--virtual-time-budget=3000")
	data, err := os.ReadFile(png)
	require.NoError(t, err)
	require.Greater(t, len(data), 10<<10, "a screenshot of a full page")
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), data[:8])
	t.Logf("screenshot: %s (%d bytes)", png, len(data))
	// Kept after the test when asked, for a person to look at.
	if keep := os.Getenv("APTQ_UI_SCREENSHOT"); keep != "" {
		require.NoError(t, os.WriteFile(keep, data, 0o644))
		t.Logf("screenshot copied to %s", keep)
	}
}

// findChromium finds Debian's chromium; the test fails without it, because
// CI must run it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install Debian's chromium package (apt-get install -y chromium)")
	return ""
}

// runChromium runs headless Chromium on url with a fresh profile and
// returns its standard output; mode is what it should do (--dump-dom).
func runChromium(t *testing.T, chromium, url string, mode ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--user-data-dir="+t.TempDir(), "--window-size=1400,1000")
	cmd.Args = append(append(cmd.Args, mode...), url)
	// Chromium forks helpers: its own process group, killed whole on timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium %v: %s", mode, stderr.String())
	return stdout.String()
}

func TestQueueTable(t *testing.T) {
	t.Parallel()
	states, queues, totals := queueTable([]store.QueueDepth{
		{Queue: "publish_01", State: "available", Count: 2},
		{Queue: "maintenance", State: "completed", Count: 5},
		{Queue: "publish_01", State: "running", Count: 1},
		{Queue: "publish_01", State: "someday", Count: 1}, // a state a newer River adds
	})
	require.Equal(t, append(slices.Clone(riverStates), "someday"), states)
	require.Equal(t, []uiQueue{
		{Name: "maintenance", Counts: []int{0, 0, 0, 0, 0, 5, 0, 0, 0}, Total: 5},
		{Name: "publish_01", Counts: []int{2, 0, 0, 1, 0, 0, 0, 0, 1}, Total: 4},
	}, queues)
	require.Equal(t, uiQueue{Name: "all queues", Counts: []int{2, 0, 0, 1, 0, 5, 0, 0, 1}, Total: 9}, totals)
}

func TestUIFormatting(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-12 * time.Second: "12s ago", 30 * time.Second: "in 30s", -(3*time.Minute + 7*time.Second): "3m07s ago",
		5*time.Hour + 2*time.Minute: "in 5h02m", -72 * time.Hour: "3d ago",
	} {
		require.Equal(t, want, relTime(now, now.Add(d)), d)
	}
	require.Equal(t, "changes=3 lease_token=12345678 signers=[A B] worker=w-1",
		eventDetail(map[string]any{"worker": "w-1", "lease_token": float64(12345678), "changes": float64(3),
			"signers": []any{"A", "B"}}))
}

// TestUIEscapes renders every text the page shows from the database, and
// the login page's message and code, as hostile markup: html/template
// escapes each in its context, so none becomes a tag, an attribute or a URL.
func TestUIEscapes(t *testing.T) {
	t.Parallel()
	const x = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	now := time.Now()
	d := uiOverviewData{Now: now, Refresh: 5, States: []string{x},
		Releases: []store.ReleaseOverview{{Tenant: x, Repo: x, Release: x, LeaseHolder: x,
			OpenRound: &store.OpenRoundOverview{State: x}}},
		Queues: []uiQueue{{Name: x, Counts: []int{1}}},
		Rounds: []store.RoundOverview{{Tenant: x, Repo: x, Release: x,
			RoundSummary: store.RoundSummary{State: x, ErrorCode: x, ErrorMessage: x, CreatedAt: now}}},
		Jobs: []uiJob{{JobView: store.JobView{TenantName: x, Repo: x, Release: x, State: x, ErrorCode: x, ErrorMessage: x},
			Timeline: []store.Event{{Kind: x, Detail: map[string]any{x: x}, At: now}}}}}
	pages := map[string]any{"overview.html": d, "login.html": uiLoginData{Message: x},
		"login.html with a code": uiLoginData{Code: x}}
	for name, data := range pages {
		var buf bytes.Buffer
		require.NoError(t, uiTemplates.ExecuteTemplate(&buf, strings.Fields(name)[0], data), name)
		page := buf.String()
		for _, bad := range []string{x, "<script", "<img"} {
			require.NotContains(t, page, bad, name)
		}
	}
}
