package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

const principalKey = "aptq.principal"

// bearer reads "Authorization: Bearer <token>" and returns the live
// token's principal; a missing, unknown or revoked token is unauthorized,
// with the challenge header.
func (s *Server) bearer(c echo.Context) (store.Principal, error) {
	token, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
		return store.Principal{}, store.Errorf(wire.CodeUnauthorized, "missing bearer token")
	}
	p, err := s.store.Authenticate(c.Request().Context(), token)
	if err != nil {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
		return store.Principal{}, err
	}
	return p, nil
}

// authenticate accepts only "Authorization: Bearer <token>" with a live token.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.bearer(c)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		// The store records this token as the author of what the request writes.
		c.SetRequest(c.Request().WithContext(store.WithActor(c.Request().Context(),
			store.Actor{TenantID: p.Tenant.ID, TokenID: p.TokenID, TokenName: p.TokenName})))
		return next(c)
	}
}

// tenantOnly admits tenant tokens: repositories and jobs belong to a tenant.
func tenantOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if principalOf(c).Admin {
			return store.Errorf(wire.CodeForbidden, "an operator token manages tenants; use a tenant token here")
		}
		return next(c)
	}
}

// adminOnly admits operator tokens.
func adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !principalOf(c).Admin {
			return store.Errorf(wire.CodeNotFound, "not found")
		}
		return next(c)
	}
}

func principalOf(c echo.Context) store.Principal {
	return c.Get(principalKey).(store.Principal)
}

func tenantOf(c echo.Context) store.Tenant {
	return principalOf(c).Tenant
}

func (s *Server) whoami(c echo.Context) error {
	p := principalOf(c)
	if p.Admin {
		return c.JSON(http.StatusOK, wire.OperatorWhoami{Operator: true})
	}
	return c.JSON(http.StatusOK, wire.Whoami{Tenant: p.Tenant.Name, TenantID: p.Tenant.ID,
		Token: TokenRef{ID: p.TokenID, Name: p.TokenName}, Scope: p.Scope, Repos: p.Repos})
}

func tokenRef(r *store.TokenRef) *TokenRef {
	if r == nil {
		return nil
	}
	return &TokenRef{ID: r.ID, Name: r.Name}
}

func tokenResponse(t store.Token, secret string) TokenResponse {
	return TokenResponse{ID: t.ID, Name: t.Name, Scope: t.Scope, Repos: t.Repos, Token: secret,
		CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
}

// createToken makes a token of the tenant with a scope and, for read and
// publish, optionally a list of repositories; never one with more power
// than the token asking.
func (s *Server) createToken(c echo.Context) error {
	var req wire.TokenRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	if !store.ScopeAllows(p.Scope, req.Scope) || (p.Repos != nil && !subset(req.Repos, p.Repos)) {
		return store.Errorf(wire.CodeForbidden, "a token cannot create a token with more power than itself")
	}
	t, secret, err := s.store.CreateToken(c.Request().Context(), store.TokenSpec{TenantID: &p.Tenant.ID,
		Name: req.Name, Scope: req.Scope, Repos: req.Repos})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tokenResponse(t, secret))
}

// subset says whether every element of xs (nil: all) is in of.
func subset(xs, of []string) bool {
	if xs == nil {
		return false
	}
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

func (s *Server) listTokens(c echo.Context) error {
	tokens, err := s.store.Tokens(c.Request().Context(), tenantOf(c).ID)
	if err != nil {
		return err
	}
	out := make([]TokenResponse, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, tokenResponse(t, ""))
	}
	return c.JSON(http.StatusOK, wire.TokenList{Tokens: out})
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("token id %q is not a number", c.Param("id"))
	}
	if err := s.store.RevokeToken(c.Request().Context(), tenantOf(c).ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// createTenant (operator) creates a tenant and returns its first token.
func (s *Server) createTenant(c echo.Context) error {
	var req wire.TenantRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	t, token, err := s.store.CreateTenant(c.Request().Context(), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, wire.Tenant{Name: t.Name, ID: t.ID, Token: token, CreatedAt: t.CreatedAt})
}

// listTenants (operator) lists every tenant with what it holds.
func (s *Server) listTenants(c echo.Context) error {
	tenants, err := s.store.Tenants(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]TenantResponse, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, TenantResponse{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt,
			Repositories: t.Repositories, Tokens: t.Tokens})
	}
	return c.JSON(http.StatusOK, wire.TenantList{Tenants: out})
}
