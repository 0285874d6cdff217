package api

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
)

// Long polls (a job's state, a reconcile's report) read, subscribe to the
// release's notifications, read again, then sleep in awaitNews until there
// is news or the poll must answer.

// waitParam reads ?wait=30s, capped by the server's MaxWait.
func (s *Server) waitParam(c echo.Context) (time.Duration, error) {
	w := c.QueryParam("wait")
	if w == "" {
		return 0, nil
	}
	wait, err := time.ParseDuration(w)
	if err != nil || wait < 0 {
		return 0, badRequest("wait %q is not a duration like 30s", w)
	}
	return min(wait, s.cfg.MaxWait), nil
}

// awaitNews sleeps until wake (a notification for the release), the
// poll's deadline or the server's drain; more is false when the poll must
// answer now, and err is set when the client went away.
func (s *Server) awaitNews(ctx context.Context, wake <-chan struct{}, deadline <-chan time.Time) (more bool, err error) {
	select {
	case <-wake:
		return true, nil
	case <-deadline:
	case <-s.draining:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return false, nil
}
