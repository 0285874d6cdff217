package api

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// The operator page's sign-in forms and one-time login links (the design
// is described in ui_session.go).

// uiLoginData fills login.html.
type uiLoginData struct {
	Message string
	Code    string // a login link's: the form posts it
}

// uiLoginForm shows the sign-in form.
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
