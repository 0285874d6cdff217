package api

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
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

type uiLoginData struct {
	Message string
	Code    string // a login link's: the form posts it
}

func (s *Server) uiLoginForm(c echo.Context) error {
	return s.renderUI(c, http.StatusOK, "login.html", uiLoginData{})
}

// uiLogin signs in with an operator token typed into the form.
func (s *Server) uiLogin(c echo.Context) error {
	ctx := c.Request().Context()
	token := strings.TrimSpace(c.FormValue("token"))
	p, err := s.store.Authenticate(ctx, token)
	if err == nil && !p.Admin {
		err = store.Errorf(wire.CodeForbidden, "a tenant token cannot open the operator page; use an operator token")
	}
	var session string
	if err == nil {
		session, err = s.store.CreateUISession(ctx, p.TokenID, sessionTTL)
	}
	if err != nil {
		return s.uiLoginFailed(c, err)
	}
	c.SetCookie(s.uiCookie(session, int(sessionTTL.Seconds())))
	return c.Redirect(http.StatusSeeOther, "/ui/")
}

// uiLoginLinkForm shows a login link's button; the code is checked, and
// spent, when it is pressed. Only the shape of a code (store's random
// secrets) goes into the form, so that a crafted link cannot make the
// button post elsewhere, such as /ui/login/../logout.
func (s *Server) uiLoginLinkForm(c echo.Context) error {
	code := c.Param("code")
	if !loginCodeShape.MatchString(code) {
		return s.uiLoginFailed(c, errBadLink)
	}
	return s.renderUI(c, http.StatusOK, "login.html", uiLoginData{Code: code})
}

var (
	loginCodeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	errBadLink     = store.Errorf(wire.CodeUnauthorized, "this login link is invalid, expired or already used; ask for a new one")
)

// uiLoginLink signs in with a one-time login link.
func (s *Server) uiLoginLink(c echo.Context) error {
	session, err := s.store.RedeemLoginCode(c.Request().Context(), c.Param("code"), sessionTTL)
	if err != nil {
		return s.uiLoginFailed(c, err)
	}
	c.SetCookie(s.uiCookie(session, int(sessionTTL.Seconds())))
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

// uiLogout ends the session in the database, so that a copy of the cookie
// is worth nothing on any API process, and clears the cookie.
func (s *Server) uiLogout(c echo.Context) error {
	if ck, err := c.Cookie(uiCookie); err == nil && ck.Value != "" {
		if err := s.store.EndUISession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	c.SetCookie(s.uiCookie("", -1))
	return c.Redirect(http.StatusSeeOther, "/ui/login")
}

// createLoginCode (operator) returns a one-time login link for the page.
func (s *Server) createLoginCode(c echo.Context) error {
	code, expires, err := s.store.CreateLoginCode(c.Request().Context(), principalOf(c).TokenID, loginCodeTTL)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, wire.LoginLink{URL: s.cfg.ExternalURL + "/ui/login/" + code,
		ExpiresAt: expires.UTC().Truncate(time.Second)})
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
