package api

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

const tenantAttemptError = "the server failed this attempt and retries the job; an operator can see why"

func attemptErrors(c echo.Context, errs []store.AttemptError) []AttemptErrorResponse {
	out := make([]AttemptErrorResponse, 0, len(errs))
	for _, e := range errs {
		msg := tenantAttemptError
		if principalOf(c).Admin {
			msg = e.Error
		}
		out = append(out, AttemptErrorResponse{Attempt: e.Attempt, At: e.At, Code: wire.CodeInternal, Error: msg})
	}
	return out
}

// getJob answers at once, or with ?wait=30s&state=S as soon as the job's
// state differs from S: a long poll woken by database notifications.
func (s *Server) getJob(c echo.Context) error {
	ctx := c.Request().Context()
	tenantID := scopeOf(c)
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

	view, err := s.store.JobView(ctx, tenantID, id)
	// A long poll is the client following its change: present while it
	// waits, and for a grace after (store.TouchClient).
	following := err == nil && wait > 0 && !principalOf(c).Admin
	if following {
		// A client frozen while its poll waits keeps the connection open
		// and counts as present until the poll ends: the wait is kept to
		// half the grace, so a frozen client is gone 1.5 graces after its
		// last poll began, not a 30 s wait plus the grace later.
		wait = min(wait, s.cfg.ClientGrace/2)
		deadline.Reset(wait)
		// Best effort: a poll that cannot record its client still answers.
		s.touchClient(ctx, view.ChangeID, wait+s.cfg.ClientGrace)
	}
	for err == nil && lastState != "" && view.State == lastState && wait > 0 {
		wake := s.cfg.Listener.Wait(view.ReleaseID)
		// Read again after subscribing: a change between the two reads is not missed.
		if view, err = s.store.JobView(ctx, tenantID, id); err != nil || view.State != lastState {
			break
		}
		more, werr := s.awaitNews(ctx, wake, deadline.C)
		if werr != nil {
			return werr
		}
		if !more {
			wait = 0
		}
		view, err = s.store.JobView(ctx, tenantID, id)
	}
	if err != nil {
		return err
	}
	out := s.jobResponse(c, view)
	timeline, err := s.store.Timeline(ctx, view.ChangeID)
	if err != nil {
		return err
	}
	for _, e := range timeline {
		out.Timeline = append(out.Timeline, EventResponse(e))
	}
	attempts, err := s.store.JobAttemptErrors(ctx, view.JobID)
	if err != nil {
		return err
	}
	out.AttemptErrors = attemptErrors(c, attempts)
	if following {
		// Before answering: once answered, the client's next poll may
		// already be extending its presence, which this must not cut short.
		s.touchClient(ctx, view.ChangeID, s.cfg.ClientGrace)
	}
	return c.JSON(http.StatusOK, out)
}

// touchClient records a change's client as present for d (store.TouchClient),
// logging rather than failing the poll when it cannot.
func (s *Server) touchClient(ctx context.Context, changeID int64, d time.Duration) {
	if err := s.store.TouchClient(ctx, s.store.Pool, changeID, d); err != nil && ctx.Err() == nil {
		s.logger.Warn("record client poll", slog.Int64("change_id", changeID), slog.Any("error", err))
	}
}

// scopeOf is the tenant whose jobs a request may see; 0 for an operator (all).
func scopeOf(c echo.Context) int64 {
	return principalOf(c).Tenant.ID
}

// listJobs is the operator's view of the job table.
func (s *Server) listJobs(c echo.Context) error {
	f := store.JobFilter{TenantID: scopeOf(c), Repo: c.QueryParam("repo"), Release: c.QueryParam("release"),
		State: c.QueryParam("state"), Repos: principalOf(c).Repos}
	var err error
	if v := c.QueryParam("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			d, derr := time.ParseDuration(v)
			if derr != nil {
				return badRequest("since %q is neither RFC 3339 nor a duration like 1h", v)
			}
			f.Since = time.Now().Add(-d)
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 500 {
			return badRequest("limit must be a number from 1 to 500")
		}
	}
	if v := c.QueryParam("cursor"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil {
			return badRequest("cursor %q is not a job id", v)
		}
	}
	views, err := s.store.ListJobs(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]JobResponse, 0, len(views))
	for _, v := range views {
		out = append(out, s.jobResponse(c, v))
	}
	res := wire.JobPage{Jobs: out}
	limit := f.Limit
	if limit == 0 {
		limit = 100 // the store's default page
	}
	if len(views) == limit {
		res.NextCursor = views[len(views)-1].JobID
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) jobResponse(c echo.Context, v store.JobView) JobResponse {
	out := JobResponse{JobID: v.JobID, ChangeID: v.ChangeID, Repo: v.Repo, Release: v.Release,
		State: v.State, Kind: v.Kind, URL: s.aptURL(store.Tenant{Name: v.TenantName}, v.Repo), CreatedAt: v.CreatedAt,
		UpdatedAt: v.UpdatedAt, Submitter: tokenRef(v.Submitter)}
	if principalOf(c).Admin {
		out.Tenant = v.TenantName
	}
	if r := v.Round; r != nil {
		out.Generation = r.Generation
		out.Round = &RoundResponse{ID: r.ID, Generation: r.Generation, State: r.State,
			SignatureDeadline: r.SignatureDeadline, SignedBy: tokenRef(r.SignedBy)}
		if r.State == store.RoundAwaitingSignature && v.State == store.RoundAwaitingSignature {
			out.Round.Release = string(r.ReleaseBytes)
		}
	}
	if v.ErrorCode != "" {
		out.Error = &ErrorBody{Code: v.ErrorCode, Message: v.ErrorMessage}
	}
	return out
}

// reasonCodeRe bounds the code a client gives for cancelling: it is shown
// to operators as the job's error code, beside the server's own codes.
var reasonCodeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// maxReasonMessage bounds the message a client gives for cancelling.
const maxReasonMessage = 1000

// cancelJob withdraws a change that is not committed yet (DELETE
// /v1/jobs/{id}[?reason_code=C&reason=M]). A client that gives up because of
// a failure (a refused signature) names it, so the job shows that failure.
func (s *Server) cancelJob(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("job id %q is not a number", c.Param("id"))
	}
	reason := store.CancelReason{Code: c.QueryParam("reason_code"), Message: c.QueryParam("reason")}
	switch {
	case reason.Code == "" && reason.Message != "":
		return badRequest("reason needs a reason_code")
	case reason.Code != "" && !reasonCodeRe.MatchString(reason.Code):
		return badRequest("reason_code must be lowercase letters, digits and _, at most 40, starting with a letter")
	case len(reason.Message) > maxReasonMessage || !utf8.ValidString(reason.Message) ||
		strings.ContainsFunc(reason.Message, unicode.IsControl):
		return badRequest("reason must be printable UTF-8 of at most %d bytes", maxReasonMessage)
	}
	if err := s.store.CancelJob(ctx, tenant.ID, id, reason); err != nil {
		return err
	}
	view, err := s.store.JobView(ctx, tenant.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.jobResponse(c, view))
}

// retryJob re-enqueues a failed or cancelled change as a new job.
func (s *Server) retryJob(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("job id %q is not a number", c.Param("id"))
	}
	view, err := s.store.JobView(ctx, tenant.ID, id)
	if err != nil {
		return err
	}
	if view.State != store.ChangeFailed && view.State != store.ChangeCancelled {
		return store.Errorf(wire.CodeConflict, "job %d is %s; only a failed or cancelled job can be retried", id, view.State)
	}
	old, err := s.store.Change(ctx, view.ChangeID)
	if err != nil {
		return err
	}
	rel, err := s.store.ReleaseByID(ctx, s.store.Pool, view.ReleaseID)
	if err != nil {
		return err
	}
	change, jobID, err := s.enqueueAudited(c, rel, old.Adds, old.Removes, old.Settings, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wire.RetryRef{JobRef: wire.JobRef{JobID: jobID, ChangeID: change.ID}, RetryOf: id})
}

func (s *Server) listRounds(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	rounds, err := s.store.Rounds(c.Request().Context(), rel.ID, 50)
	if err != nil {
		return err
	}
	out := make([]RoundSummary, 0, len(rounds))
	for _, r := range rounds {
		out = append(out, RoundSummary(r))
	}
	return c.JSON(http.StatusOK, wire.RoundList{Rounds: out})
}
