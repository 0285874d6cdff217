package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/wire"
)

// healthz says the process is up; it checks nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, wire.Health{Status: "ok"})
}

// readyz says whether Postgres and S3 answer, each with its own verdict.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	checks := wire.Readiness{Postgres: "ok", S3: "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks.Postgres = "unreachable"
		status = http.StatusServiceUnavailable
	}
	if err := s.blob.Ping(ctx); err != nil {
		checks.S3 = "unreachable"
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, checks)
}
