package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// Sign-in for the operator page. A browser cannot send a bearer header, so
// the page takes one of:
//   - "Authorization: Bearer <operator token>" (curl, scripts);
//   - the session cookie aptq_ui, set by POST /ui/login (a form with the
//     operator token) or by a one-time login link /ui/login/<code>, which
//     an operator gets from POST /v1/ui/codes with their bearer token.
//
// Opening a login link (GET) only shows a button that posts it: a GET
// changes nothing, so a chat's link preview or a mail scanner that fetches
// the link neither spends it nor receives a session, and the session
// starts in a same-site request, whose SameSite=Strict cookie the browser
// keeps sending when the link was clicked on another site.
//
// The cookie and the link carry random secrets; the sessions and codes are
// rows in Postgres (store/uisessions.go), so that a logout, a revoked token
// and a spent code hold in every API process, not only the one that saw
// them. Links are built from the configured external URL, never from the
// request's Host; the cookie is Secure when that URL is https, whatever a
// client or a proxy says in its headers. A POST to the page must come from
// the page: its Origin (or Referer) must be the external URL's or the
// request's own host, which stops login CSRF and cross-site sign-outs.

const (
	uiCookie     = "aptq_ui"
	sessionTTL   = 12 * time.Hour
	loginCodeTTL = 60 * time.Second
)

// uiBearer admits an operator's bearer token; a tenant's is refused
// because the page shows every tenant.
func (s *Server) uiBearer(c echo.Context) error {
	p, err := s.bearer(c)
	if err != nil {
		return err
	}
	if !p.Admin {
		return store.Errorf(wire.CodeForbidden, "the operator page shows every tenant; it needs an operator token")
	}
	return nil
}

// uiSession checks the session cookie; ok is false when there is none or
// it is unknown, expired, signed out or its token revoked. A session past
// half its life is extended, so that a page left open keeps refreshing.
func (s *Server) uiSession(c echo.Context) (ok bool, err error) {
	ck, err := c.Cookie(uiCookie)
	if err != nil || ck.Value == "" {
		return false, nil
	}
	ctx := c.Request().Context()
	u, err := s.store.UISessionOf(ctx, ck.Value)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if time.Until(u.ExpiresAt) < sessionTTL/2 {
		if err := s.store.ExtendUISession(ctx, ck.Value, sessionTTL); err != nil {
			return false, err
		}
		c.SetCookie(s.uiCookie(ck.Value, int(sessionTTL.Seconds())))
	}
	return true, nil
}

func (s *Server) uiCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: uiCookie, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.cfg.ExternalURL, "https://")}
}

// sameOrigin refuses a request that a page elsewhere made the browser
// send: its Origin, or its Referer when a browser sends no Origin, must be
// the external URL's origin or name the host the request was sent to.
// Browsers set both headers themselves; a script that forges them gains
// nothing it could not do with the token it would need anyway.
func (s *Server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		from := r.Header.Get("Origin")
		if from == "" {
			from = r.Referer()
		}
		u, err := url.Parse(from)
		if from == "" || err != nil || u.Host == "" ||
			(u.Scheme+"://"+u.Host != s.cfg.ExternalURL && !strings.EqualFold(u.Host, r.Host)) {
			return store.Errorf(wire.CodeCrossOrigin,
				"a form of the operator page must be sent from the page itself (%s), not from another site", s.cfg.ExternalURL)
		}
		return next(c)
	}
}
