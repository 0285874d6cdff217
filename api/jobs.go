package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
)

// JobResponse is what a client polling its job sees.
type JobResponse struct {
	JobID      int64          `json:"job_id"`
	ChangeID   int64          `json:"change_id"`
	Repo       string         `json:"repo"`
	Release    string         `json:"release"`
	State      string         `json:"state"`
	Generation int64          `json:"generation,omitempty"`
	Round      *RoundResponse `json:"round,omitempty"`
	Error      *ErrorBody     `json:"error,omitempty"`
	URL        string         `json:"url"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// RoundResponse is the round a job rides in; Release only while it awaits a signature.
type RoundResponse struct {
	ID                int64     `json:"id"`
	Generation        int64     `json:"generation"`
	State             string    `json:"state"`
	Release           string    `json:"release,omitempty"`
	SignatureDeadline time.Time `json:"signature_deadline"`
}

// getJob answers at once, or with ?wait=30s&state=S as soon as the job's
// state differs from S: a long poll woken by database notifications.
func (s *Server) getJob(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("job id %q is not a number", c.Param("id"))
	}
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	lastState := c.QueryParam("state")
	deadline := time.NewTimer(wait)
	defer deadline.Stop()

	view, err := s.store.JobView(ctx, tenant.ID, id)
	for err == nil && lastState != "" && view.State == lastState && wait > 0 {
		wake := s.cfg.Listener.Wait(view.ReleaseID)
		// Read again after subscribing: a change between the two reads is not missed.
		if view, err = s.store.JobView(ctx, tenant.ID, id); err != nil || view.State != lastState {
			break
		}
		select {
		case <-wake:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			return ctx.Err()
		}
		view, err = s.store.JobView(ctx, tenant.ID, id)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, jobResponse(c, tenant, view))
}

func jobResponse(c echo.Context, tenant store.Tenant, v store.JobView) JobResponse {
	out := JobResponse{JobID: v.JobID, ChangeID: v.ChangeID, Repo: v.Repo, Release: v.Release,
		State: v.State, URL: aptURL(c, tenant, v.Repo), CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if r := v.Round; r != nil {
		out.Generation = r.Generation
		out.Round = &RoundResponse{ID: r.ID, Generation: r.Generation, State: r.State,
			SignatureDeadline: r.SignatureDeadline}
		if r.State == store.RoundAwaitingSignature && v.State == store.RoundAwaitingSignature {
			out.Round.Release = string(r.ReleaseBytes)
		}
	}
	if v.ErrorCode != "" {
		out.Error = &ErrorBody{Code: v.ErrorCode, Message: v.ErrorMessage}
	}
	return out
}

// cancelJob withdraws a change that is not committed yet (DELETE /v1/jobs/{id}).
func (s *Server) cancelJob(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("job id %q is not a number", c.Param("id"))
	}
	if err := s.store.CancelJob(ctx, tenant.ID, id); err != nil {
		return err
	}
	view, err := s.store.JobView(ctx, tenant.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, jobResponse(c, tenant, view))
}
