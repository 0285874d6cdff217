package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
)

// Replays of attacks on the operator page's sign-in against the real
// binaries, with two `aptqd api` processes on one database where the attack
// needs a second process (DESIGN §8).

// startAPI starts another `aptqd api` process on b's database and returns
// its URL.
func startAPI(t *testing.T, b *bundle, extraEnv ...string) *bundle {
	t.Helper()
	addr := systest.FreeAddr(t)
	other := &bundle{t: t, dbURL: b.dbURL, URL: "http://" + addr, Token: b.Token, Tenant: b.Tenant, dir: b.dir,
		logs: &lockedWriter{w: &bytes.Buffer{}}}
	cmd := exec.Command(filepath.Join(binDir, "aptqd"), "api", "--listen", addr, "--database-url", b.dbURL)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = other.logs, other.logs
	require.NoError(t, cmd.Start())
	other.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("second aptqd api log:\n%s", systest.Tail(other.logs.String(), 8000))
		}
	})
	other.waitReady()
	return other
}

// operatorToken creates an operator token with the admin command.
func (b *bundle) operatorToken() string {
	b.t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "aptqd"), "admin", "create-token", "--database-url", b.dbURL).Output()
	require.NoError(b.t, err)
	return strings.TrimSpace(string(out))
}

// uiSessions counts the page's sessions, to show an attack started none.
func (b *bundle) uiSessions() int {
	b.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	require.NoError(b.t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(b.t, conn.QueryRow(ctx, `SELECT count(*) FROM ui_sessions`).Scan(&n))
	return n
}

type uiAnswer struct {
	status int
	body   string
	cookie *http.Cookie
}

// uiRequest sends a request without following redirects; header "Host"
// sets the request's host.
func (b *bundle) uiRequest(method, target string, form url.Values, header map[string]string, cookie string) uiAnswer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.URL+target, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "aptq_ui", Value: cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	a := uiAnswer{status: resp.StatusCode, body: string(data)}
	for _, c := range resp.Cookies() {
		if c.Name == "aptq_ui" {
			a.cookie = c
		}
	}
	return a
}

// loginLink asks for a one-time login link with an operator token.
func (b *bundle) loginLink(op string, header map[string]string) string {
	b.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + op}
	for k, v := range header {
		h[k] = v
	}
	a := b.uiRequest(http.MethodPost, "/v1/ui/codes", nil, h, "")
	require.Equal(b.t, http.StatusCreated, a.status, a.body)
	var out struct {
		URL string `json:"url"`
	}
	require.NoError(b.t, json.Unmarshal([]byte(a.body), &out))
	return out.URL
}

// signIn posts the login form as a browser on the page would.
func (b *bundle) signIn(op string) string {
	b.t.Helper()
	a := b.uiRequest(http.MethodPost, "/ui/login", url.Values{"token": {op}}, map[string]string{"Origin": b.URL}, "")
	require.Equal(b.t, http.StatusSeeOther, a.status, a.body)
	require.NotNil(b.t, a.cookie)
	return a.cookie.Value
}

func (b *bundle) requireSignedIn(cookie string, want bool) {
	b.t.Helper()
	a := b.uiRequest(http.MethodGet, "/ui/", nil, nil, cookie)
	if want {
		require.Equal(b.t, http.StatusOK, a.status)
		require.Contains(b.t, a.body, "aptq operator overview")
	} else {
		require.Equal(b.t, http.StatusSeeOther, a.status, "sent to the sign-in form")
		require.NotContains(b.t, a.body, "Recent jobs")
	}
}

// TestAttackUILoginCodeTwice: a login link used on one API process cannot
// be used again on another, and fetching it (a chat's link preview) neither
// spends it nor signs anyone in.
func TestAttackUILoginCodeTwice(t *testing.T) {
	t.Parallel()
	a := setup(t)
	b := startAPI(t, a)
	op := a.operatorToken()

	code := path.Base(a.loginLink(op, nil))
	// A link preview fetching the link on either process spends nothing and gets no session.
	for _, srv := range []*bundle{a, b} {
		preview := srv.uiRequest(http.MethodGet, "/ui/login/"+code, nil, nil, "")
		require.Equal(t, http.StatusOK, preview.status)
		require.Nil(t, preview.cookie)
	}
	require.Zero(t, a.uiSessions())
	first := b.uiRequest(http.MethodPost, "/ui/login/"+code, nil, map[string]string{"Origin": b.URL}, "")
	require.Equal(t, http.StatusSeeOther, first.status, first.body)
	require.NotNil(t, first.cookie)
	sessions := a.uiSessions()
	again := a.uiRequest(http.MethodPost, "/ui/login/"+code, nil, map[string]string{"Origin": a.URL}, "")
	require.Equal(t, http.StatusUnauthorized, again.status, "the code replayed on the other process")
	require.Contains(t, again.body, "already used")
	require.Nil(t, again.cookie)
	require.Equal(t, sessions, a.uiSessions())
	a.requireSignedIn(first.cookie.Value, true)
}

// TestAttackUILogoutCopiedCookie: a copy of a session cookie is worthless
// after its owner signs out, on every API process, and after its operator
// token is revoked.
func TestAttackUILogoutCopiedCookie(t *testing.T) {
	t.Parallel()
	a := setup(t)
	b := startAPI(t, a)
	op := a.operatorToken()

	stolen := a.signIn(op)
	b.requireSignedIn(stolen, true)
	out := a.uiRequest(http.MethodPost, "/ui/logout", nil, map[string]string{"Origin": a.URL}, stolen)
	require.Equal(t, http.StatusSeeOther, out.status)
	a.requireSignedIn(stolen, false)
	b.requireSignedIn(stolen, false)

	live := b.signIn(op)
	a.requireSignedIn(live, true)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE admin AND revoked_at IS NULL`)
	require.NoError(t, err)
	a.requireSignedIn(live, false)
	b.requireSignedIn(live, false)
}

// TestAttackUIHostHeader: a forged Host or forwarding header never makes a
// login link to another host, nor a Secure-less or Secure cookie against
// the configuration; the external URL decides.
func TestAttackUIHostHeader(t *testing.T) {
	t.Parallel()
	a := setup(t)
	op := a.operatorToken()
	forged := map[string]string{"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
	link := a.loginLink(op, forged)
	require.True(t, strings.HasPrefix(link, a.URL+"/ui/login/"), link)
	require.Contains(t, a.logs.String(), "no --external-url", "the fallback is logged")
	signedIn := a.uiRequest(http.MethodPost, "/ui/login", url.Values{"token": {op}},
		map[string]string{"Origin": a.URL, "X-Forwarded-Proto": "https"}, "")
	require.Equal(t, http.StatusSeeOther, signedIn.status)
	require.False(t, signedIn.cookie.Secure, "plain HTTP, whatever X-Forwarded-Proto says")

	tls := startAPI(t, a, "APTQ_EXTERNAL_URL=https://aptq.example.com/")
	link = tls.loginLink(op, forged)
	require.True(t, strings.HasPrefix(link, "https://aptq.example.com/ui/login/"), link)
	byLink := tls.uiRequest(http.MethodPost, strings.TrimPrefix(link, "https://aptq.example.com"), nil,
		map[string]string{"Origin": "https://aptq.example.com"}, "")
	require.Equal(t, http.StatusSeeOther, byLink.status)
	require.True(t, byLink.cookie.Secure, "an https external URL")
	require.NotContains(t, tls.logs.String(), "no --external-url")
}

// TestAttackUICrossSiteLogin: a form on another site that posts to the
// page (login CSRF, a forced sign-out) gets 403 cross_origin and changes
// nothing.
func TestAttackUICrossSiteLogin(t *testing.T) {
	t.Parallel()
	a := setup(t)
	op := a.operatorToken()
	session := a.signIn(op)
	sessions := a.uiSessions()
	code := path.Base(a.loginLink(op, nil))
	for _, target := range []string{"/ui/login", "/ui/logout", "/ui/login/" + code} {
		for _, h := range []map[string]string{{"Origin": "https://evil.example"}, {"Origin": "null"},
			{"Referer": "https://evil.example/phish"}, {}} {
			r := a.uiRequest(http.MethodPost, target, url.Values{"token": {op}}, h, session)
			require.Equal(t, http.StatusForbidden, r.status, "%s %v", target, h)
			require.Contains(t, r.body, `"code":"cross_origin"`)
			require.Nil(t, r.cookie)
		}
	}
	require.Equal(t, sessions, a.uiSessions(), "no session started")
	a.requireSignedIn(session, true)
}
