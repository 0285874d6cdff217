package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

// The operator's web page: a read-only, server-rendered overview of every
// tenant's releases, River's queues and the latest rounds and jobs. No
// JavaScript; the page refreshes itself with <meta http-equiv="refresh">.
//
// Sign-in. A browser cannot send a bearer header, so the page takes one of:
//   - "Authorization: Bearer <operator token>" (curl, scripts);
//   - the session cookie aptq_ui, set by POST /ui/login (a form with the
//     operator token) or by a one-time login link GET /ui/login/<code>,
//     which an operator gets from POST /v1/ui/codes with their bearer token.
//
// Sessions and login links are tickets: the token's id, an expiry and a
// nonce, authenticated with an HMAC keyed by the token's stored hash
// (store.OperatorTokenKey). Any API process can check them without shared
// state or a new table, the cookie never holds the token itself, and
// revoking the token ends its sessions and links at once. Login links
// expire after loginCodeTTL and are refused when used again on the same
// process; a link replayed on another API process within those seconds is
// accepted (one-time use across processes would need a table). Whoever can
// read api_tokens can forge a session: they can read everything the page
// shows anyway.

const (
	uiCookie       = "aptq_ui"
	sessionTTL     = 12 * time.Hour
	loginCodeTTL   = 60 * time.Second
	uiListLimit    = 20  // recent rounds and jobs
	uiReleaseLimit = 500 // releases on the page
	defaultRefresh = 5   // seconds
)

// Ticket purposes: an HMAC for one cannot be used as the other.
const (
	purposeSession = "aptq-ui-session"
	purposeLogin   = "aptq-ui-login"
)

//go:embed templates/*.html
var templateFS embed.FS

var uiTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ts":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"rel":    relTime,
	"detail": eventDetail,
	"deref":  func(t *time.Time) time.Time { return *t },
}).ParseFS(templateFS, "templates/*.html"))

// uiRoutes registers the page, its sign-in and the login-link endpoint.
func (s *Server) uiRoutes(e *echo.Echo) {
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/", s.uiOverview)
	e.GET("/ui/login", s.uiLoginForm)
	e.POST("/ui/login", s.uiLogin)
	e.GET("/ui/login/:code", s.uiLoginLink)
	e.POST("/ui/logout", s.uiLogout)
	e.POST("/v1/ui/codes", s.createLoginCode, s.authenticate, adminOnly)
}

// uiJob is a job and its timeline.
type uiJob struct {
	store.JobView
	Timeline []store.Event
}

// uiQueue is one queue's row of job counts, by the columns' states.
type uiQueue struct {
	Name   string
	Counts []int
	Total  int
}

type uiOverviewData struct {
	Now               time.Time
	Refresh           int
	Releases          []store.ReleaseOverview
	ReleasesTruncated bool
	ReleaseLimit      int
	States            []string
	Queues            []uiQueue
	Totals            uiQueue
	Rounds            []store.RoundOverview
	Jobs              []uiJob
}

// uiOverview renders the page for an operator; without a credential it
// sends a browser to the sign-in form.
func (s *Server) uiOverview(c echo.Context) error {
	ctx := c.Request().Context()
	if c.Request().Header.Get("Authorization") != "" {
		// A script's bearer token: answered like the API, with 401 or 403.
		if err := s.uiBearer(c); err != nil {
			return err
		}
	} else if ok, err := s.uiSession(c); err != nil {
		return err
	} else if !ok {
		return c.Redirect(http.StatusSeeOther, "/ui/login")
	}
	refresh := defaultRefresh
	if v := c.QueryParam("refresh"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			return badRequest("refresh must be seconds from 0 (off) to 3600")
		}
		refresh = n
	}
	d := uiOverviewData{Now: time.Now(), Refresh: refresh, ReleaseLimit: uiReleaseLimit}
	var err error
	if d.Releases, err = s.store.ReleaseOverviews(ctx, uiReleaseLimit+1); err != nil {
		return err
	}
	if len(d.Releases) > uiReleaseLimit {
		d.Releases, d.ReleasesTruncated = d.Releases[:uiReleaseLimit], true
	}
	depths, err := s.store.QueueDepths(ctx)
	if err != nil {
		return err
	}
	d.States, d.Queues, d.Totals = queueTable(depths)
	if d.Rounds, err = s.store.RecentRounds(ctx, uiListLimit); err != nil {
		return err
	}
	views, err := s.store.ListJobs(ctx, store.JobFilter{Limit: uiListLimit})
	if err != nil {
		return err
	}
	ids := make([]int64, len(views))
	for i, v := range views {
		ids[i] = v.ChangeID
	}
	timelines, err := s.store.Timelines(ctx, ids)
	if err != nil {
		return err
	}
	for _, v := range views {
		d.Jobs = append(d.Jobs, uiJob{JobView: v, Timeline: timelines[v.ChangeID]})
	}
	return s.renderUI(c, http.StatusOK, "overview.html", d)
}

// riverStates are River's job states in lifecycle order: the queue table's columns.
var riverStates = []string{"available", "scheduled", "pending", "running", "retryable", "completed",
	"cancelled", "discarded"}

// queueTable turns the counts into one row per queue and a total row, with
// a column for every River state (and any state a newer River adds).
func queueTable(depths []store.QueueDepth) (states []string, queues []uiQueue, totals uiQueue) {
	states = slices.Clone(riverStates)
	byQueue := map[string]map[string]int{}
	for _, d := range depths {
		if !slices.Contains(states, d.State) {
			states = append(states, d.State)
		}
		if byQueue[d.Queue] == nil {
			byQueue[d.Queue] = map[string]int{}
		}
		byQueue[d.Queue][d.State] += d.Count
	}
	totals = uiQueue{Name: "all queues", Counts: make([]int, len(states))}
	for _, name := range slices.Sorted(maps.Keys(byQueue)) {
		q := uiQueue{Name: name, Counts: make([]int, len(states))}
		for i, st := range states {
			q.Counts[i] = byQueue[name][st]
			q.Total += q.Counts[i]
			totals.Counts[i] += q.Counts[i]
		}
		totals.Total += q.Total
		queues = append(queues, q)
	}
	return states, queues, totals
}

// uiBearer admits an operator's bearer token; a tenant's is refused
// because the page shows every tenant.
func (s *Server) uiBearer(c echo.Context) error {
	token, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
		return store.Errorf(store.CodeUnauthorized, "missing bearer token")
	}
	p, err := s.store.Authenticate(c.Request().Context(), strings.TrimSpace(token))
	if err != nil {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
		return err
	}
	if !p.Admin {
		return store.Errorf(codeForbidden, "the operator page shows every tenant; it needs an operator token")
	}
	return nil
}

// uiSession checks the session cookie; ok is false when there is none or it
// is invalid, expired or its token revoked. A session past half its life is
// renewed, so that a page left open keeps refreshing.
func (s *Server) uiSession(c echo.Context) (ok bool, err error) {
	ck, err := c.Cookie(uiCookie)
	if err != nil {
		return false, nil
	}
	t, err := s.verifyTicket(c.Request().Context(), purposeSession, ck.Value)
	if errors.Is(err, errBadTicket) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if time.Until(t.Expires) < sessionTTL/2 {
		if err := s.startSession(c, t.TokenID); err != nil {
			return false, err
		}
	}
	return true, nil
}

type uiLoginData struct {
	Message string
}

func (s *Server) uiLoginForm(c echo.Context) error {
	return s.renderUI(c, http.StatusOK, "login.html", uiLoginData{})
}

// uiLogin signs in with an operator token typed into the form.
func (s *Server) uiLogin(c echo.Context) error {
	token := strings.TrimSpace(c.FormValue("token"))
	p, err := s.store.Authenticate(c.Request().Context(), token)
	if err == nil && !p.Admin {
		err = store.Errorf(codeForbidden, "a tenant token cannot open the operator page; use an operator token")
	}
	if err != nil {
		return s.uiLoginFailed(c, err)
	}
	if err := s.startSession(c, p.TokenID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/ui/")
}

// uiLoginLink signs in with a one-time login link.
func (s *Server) uiLoginLink(c echo.Context) error {
	t, err := s.verifyTicket(c.Request().Context(), purposeLogin, c.Param("code"))
	if errors.Is(err, errBadTicket) || (err == nil && !spendCode(t)) {
		err = store.Errorf(store.CodeUnauthorized, "this login link is invalid, expired or already used; ask for a new one")
	}
	if err != nil {
		return s.uiLoginFailed(c, err)
	}
	if err := s.startSession(c, t.TokenID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/ui/")
}

// uiLoginFailed shows the form again with why, at the status the error
// table gives; server errors go to the error handler.
func (s *Server) uiLoginFailed(c echo.Context, err error) error {
	status, body := toBody(err)
	if status >= 500 {
		return err
	}
	return s.renderUI(c, status, "login.html", uiLoginData{Message: body.Message})
}

func (s *Server) uiLogout(c echo.Context) error {
	c.SetCookie(s.uiCookie(c, "", -1))
	return c.Redirect(http.StatusSeeOther, "/ui/login")
}

// createLoginCode (operator) returns a one-time login link for the page.
func (s *Server) createLoginCode(c echo.Context) error {
	ctx := c.Request().Context()
	p := principalOf(c)
	expires := time.Now().Add(loginCodeTTL)
	code, err := s.ticket(ctx, purposeLogin, p.TokenID, expires)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"url":        c.Scheme() + "://" + c.Request().Host + "/ui/login/" + code,
		"expires_at": expires.UTC().Truncate(time.Second),
	})
}

// startSession sets the session cookie for an operator token.
func (s *Server) startSession(c echo.Context, tokenID int64) error {
	value, err := s.ticket(c.Request().Context(), purposeSession, tokenID, time.Now().Add(sessionTTL))
	if err != nil {
		return err
	}
	c.SetCookie(s.uiCookie(c, value, int(sessionTTL.Seconds())))
	return nil
}

func (s *Server) uiCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: uiCookie, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https"}
}

// renderUI writes a page with headers that keep it out of caches and
// frames and forbid scripts.
func (s *Server) renderUI(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := uiTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	return c.HTMLBlob(status, buf.Bytes())
}

// A ticket is tokenID | expiry (unix seconds) | nonce | HMAC-SHA256 of the
// purpose and those, keyed by the token's stored hash; base64url.
type ticket struct {
	TokenID int64
	Expires time.Time
	Nonce   [16]byte
}

const ticketLen = 8 + 8 + 16 + sha256.Size

var errBadTicket = errors.New("invalid, expired or revoked ticket")

func (s *Server) ticket(ctx context.Context, purpose string, tokenID int64, expires time.Time) (string, error) {
	key, err := s.store.OperatorTokenKey(ctx, tokenID)
	if err != nil {
		return "", err
	}
	t := ticket{TokenID: tokenID, Expires: expires}
	_, _ = rand.Read(t.Nonce[:]) // crypto/rand.Read never fails on Linux
	body := t.body()
	return base64.RawURLEncoding.EncodeToString(append(body, ticketMAC(key, purpose, body)...)), nil
}

func (t ticket) body() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(t.TokenID))
	b = binary.BigEndian.AppendUint64(b, uint64(t.Expires.Unix()))
	return append(b, t.Nonce[:]...)
}

func ticketMAC(key []byte, purpose string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}

// verifyTicket checks a ticket's MAC, expiry and that its token is still a
// live operator token; errBadTicket when any fails.
func (s *Server) verifyTicket(ctx context.Context, purpose, value string) (ticket, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) != ticketLen {
		return ticket{}, errBadTicket
	}
	body, mac := raw[:ticketLen-sha256.Size], raw[ticketLen-sha256.Size:]
	t := ticket{TokenID: int64(binary.BigEndian.Uint64(body)),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(body[8:])), 0)}
	copy(t.Nonce[:], body[16:])
	key, err := s.store.OperatorTokenKey(ctx, t.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return ticket{}, errBadTicket
	}
	if err != nil {
		return ticket{}, err
	}
	if !hmac.Equal(mac, ticketMAC(key, purpose, body)) || !time.Now().Before(t.Expires) {
		return ticket{}, errBadTicket
	}
	return t, nil
}

// spentCodes remembers this process's used login codes until they expire.
var spentCodes = struct {
	sync.Mutex
	m map[[16]byte]time.Time
}{m: map[[16]byte]time.Time{}}

// spendCode marks a verified login code used; false if it already was.
func spendCode(t ticket) bool {
	spentCodes.Lock()
	defer spentCodes.Unlock()
	now := time.Now()
	for n, exp := range spentCodes.m {
		if !now.Before(exp) {
			delete(spentCodes.m, n)
		}
	}
	if _, used := spentCodes.m[t.Nonce]; used {
		return false
	}
	spentCodes.m[t.Nonce] = t.Expires
	return true
}

// relTime says how far t is from now: "12s ago", "in 30s".
func relTime(now, t time.Time) string {
	d := t.Sub(now).Round(time.Second)
	suffix := ""
	if d < 0 {
		d, suffix = -d, " ago"
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if suffix == "" {
		return "in " + s
	}
	return s + suffix
}

// eventDetail renders an event's detail as sorted key=value pairs.
func eventDetail(d map[string]any) string {
	parts := make([]string, 0, len(d))
	for _, k := range slices.Sorted(maps.Keys(d)) {
		v := d[k]
		// JSON numbers decode as float64; %v would print a large id as 1.2e+06.
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			v = int64(f)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}
