package api

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

// The operator's web page: a read-only, server-rendered overview of every
// tenant's releases, River's queues and the latest rounds and jobs. No
// JavaScript; the page refreshes itself with <meta http-equiv="refresh">.
// How an operator signs in is in ui_auth.go.

const (
	uiListLimit    = 20  // recent rounds and jobs
	uiReleaseLimit = 500 // releases on the page
	defaultRefresh = 5   // seconds
)

//go:embed templates/*.html
var templateFS embed.FS

var uiTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ts":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"rel":    relTime,
	"detail": eventDetail,
	"deref":  func(t *time.Time) time.Time { return *t },
	"relURL": releaseURL,
}).ParseFS(templateFS, "templates/*.html"))

// uiRoutes registers the page, its sign-in and the login-link endpoint.
// Every POST under /ui/ takes sameOrigin (TestUICrossOrigin enumerates them).
func (s *Server) uiRoutes(e *echo.Echo) {
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/", s.uiOverview)
	e.GET("/ui/releases/:tenant/:repo/:release", s.uiRelease)
	e.GET("/ui/login", s.uiLoginForm)
	e.POST("/ui/login", s.uiLogin, s.sameOrigin)
	e.GET("/ui/login/:code", s.uiLoginLinkForm)
	e.POST("/ui/login/:code", s.uiLoginLink, s.sameOrigin)
	e.POST("/ui/logout", s.uiLogout, s.sameOrigin)
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
	Charts            *uiCharts
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
	refresh, err := refreshParam(c)
	if err != nil {
		return err
	}
	window, err := windowParam(c)
	if err != nil {
		return err
	}
	d := uiOverviewData{Now: time.Now(), Refresh: refresh, ReleaseLimit: uiReleaseLimit}
	if d.Charts, err = s.charts(ctx, window, 0, d.Now); err != nil {
		return err
	}
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

// refreshParam reads ?refresh=, the seconds between the page's reloads.
func refreshParam(c echo.Context) (int, error) {
	v := c.QueryParam("refresh")
	if v == "" {
		return defaultRefresh, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 3600 {
		return 0, badRequest("refresh must be seconds from 0 (off) to 3600")
	}
	return n, nil
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

// renderUI writes a page with uiHeaders.
func (s *Server) renderUI(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := uiTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	uiHeaders(c.Response().Header())
	return c.HTMLBlob(status, buf.Bytes())
}

// uiHeaders keep the page out of caches and frames and forbid scripts.
func uiHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under it browsers send "Origin: null" with the page's
	// own forms, which sameOrigin must then refuse.
	h.Set("Referrer-Policy", "same-origin")
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
