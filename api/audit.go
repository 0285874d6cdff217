package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// listAudit pages through the tenant's audit log, newest first, with the
// cursor of GET /v1/jobs.
func (s *Server) listAudit(c echo.Context) error {
	f := store.AuditFilter{TenantID: tenantOf(c).ID, Limit: 100}
	var err error
	if v := c.QueryParam("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 500 {
			return badRequest("limit must be a number from 1 to 500")
		}
	}
	if v := c.QueryParam("cursor"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			return badRequest("cursor %q is not an audit entry id", v)
		}
	}
	entries, err := s.store.AuditLog(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]AuditResponse, 0, len(entries))
	for _, e := range entries {
		out = append(out, AuditResponse{ID: e.ID, Token: tokenRef(e.Token), Action: e.Action, Target: e.Target,
			Details: e.Details, At: e.At})
	}
	res := wire.AuditPage{Entries: out}
	if len(entries) == f.Limit {
		res.NextCursor = entries[len(entries)-1].ID
	}
	return c.JSON(http.StatusOK, res)
}
