package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

// A release's page, /ui/releases/{tenant}/{repo}/{release}: its
// generations, rounds and latest jobs, and the overview's charts for it
// alone. An operator sees every release's (signed in, or with an operator
// bearer token); a tenant's bearer token of any scope sees its own
// tenant's releases in the repositories it may use, and every other one is
// 404 as an unknown one is, so that the page tells no one what another
// tenant has.

const uiReleaseListLimit = 20 // generations, rounds and jobs on a release's page

type uiReleaseData struct {
	Now         time.Time
	Refresh     int
	Release     store.ReleaseInfo
	Charts      *uiCharts
	Generations []store.GenerationRow
	Rounds      []store.RoundOverview
	Jobs        []store.JobView
}

// uiRelease renders a release's page.
func (s *Server) uiRelease(c echo.Context) error {
	ctx := c.Request().Context()
	p, ok, err := s.uiViewer(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/ui/login")
	}
	window, err := windowParam(c)
	if err != nil {
		return err
	}
	refresh, err := refreshParam(c)
	if err != nil {
		return err
	}
	var names [3]string
	for i, param := range []string{"tenant", "repo", "release"} {
		if names[i], err = url.PathUnescape(c.Param(param)); err != nil {
			return store.Errorf(store.CodeNotFound, "no such release")
		}
	}
	rel, err := s.store.ReleaseByPath(ctx, names[0], names[1], names[2])
	if err != nil && store.ErrorCode(err) != store.CodeNotFound {
		return err
	}
	// Another tenant's release is as unknown as one that does not exist.
	if err != nil || !p.Admin && (p.Tenant.ID != rel.TenantID || !p.MayUseRepo(rel.Repo)) {
		return store.Errorf(store.CodeNotFound, "no such release, or not one this token may read")
	}
	d := uiReleaseData{Now: time.Now(), Refresh: refresh, Release: rel}
	if d.Charts, err = s.charts(ctx, window, rel.ID, d.Now); err != nil {
		return err
	}
	if d.Generations, err = s.store.ReleaseGenerations(ctx, rel.ID, uiReleaseListLimit); err != nil {
		return err
	}
	if d.Rounds, err = s.store.ReleaseRounds(ctx, rel.ID, uiReleaseListLimit); err != nil {
		return err
	}
	if d.Jobs, err = s.store.ReleaseJobs(ctx, rel.ID, uiReleaseListLimit); err != nil {
		return err
	}
	return s.renderUI(c, http.StatusOK, "release.html", d)
}

// uiViewer is who asks for a release's page: the principal of a bearer
// token (401 when it is not valid), or an operator's session; ok is false
// when there is neither, and the browser goes to the sign-in form.
func (s *Server) uiViewer(c echo.Context) (p store.Principal, ok bool, err error) {
	if h := c.Request().Header.Get("Authorization"); h != "" {
		token, isBearer := strings.CutPrefix(h, "Bearer ")
		if isBearer && strings.TrimSpace(token) != "" {
			p, err = s.store.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		} else {
			err = store.Errorf(store.CodeUnauthorized, "missing bearer token")
		}
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
			return p, false, err
		}
		return p, true, nil
	}
	// Only operators have sessions (uiLogin refuses tenant tokens).
	ok, err = s.uiSession(c)
	return store.Principal{Admin: true}, ok, err
}

// releaseURL is a release page's path, each name escaped as a path segment.
func releaseURL(tenant, repo, release string) string {
	return "/ui/releases/" + url.PathEscape(tenant) + "/" + url.PathEscape(repo) + "/" + url.PathEscape(release)
}
