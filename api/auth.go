package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

const tenantKey = "aptq.tenant"

// authenticate accepts only "Authorization: Bearer <token>" with a live token.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
			return store.Errorf(store.CodeUnauthorized, "missing bearer token")
		}
		tenant, err := s.store.TenantByToken(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aptq"`)
			return err
		}
		c.Set(tenantKey, tenant)
		return next(c)
	}
}

func tenantOf(c echo.Context) store.Tenant {
	return c.Get(tenantKey).(store.Tenant)
}

func (s *Server) whoami(c echo.Context) error {
	t := tenantOf(c)
	return c.JSON(http.StatusOK, map[string]any{"tenant": t.Name, "tenant_id": t.ID})
}
