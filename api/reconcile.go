package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// requestReconcile enqueues a reconcile of the release now, audited.
func (s *Server) requestReconcile(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var jobID int64
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		res, err := s.cfg.River.InsertTx(ctx, tx, jobs.ReconcileArgs{ReleaseID: rel.ID}, nil)
		if err != nil {
			return err
		}
		jobID = res.Job.ID
		return s.store.Audit(ctx, tx, "release.reconcile", c.Param("repo")+"/"+rel.Name, map[string]any{"job_id": jobID})
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wire.JobID{JobID: jobID})
}

// reconcileReports lists the release's latest reports; with
// ?job_id=N&wait=30s it waits until the report of that job exists.
func (s *Server) reconcileReports(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var jobID int64
	if v := c.QueryParam("job_id"); v != "" {
		if jobID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return badRequest("job_id %q is not a number", v)
		}
	}
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		wake := s.cfg.Listener.Wait(rel.ID)
		reports, err := s.store.ReconcileReports(ctx, rel.ID, 20)
		if err != nil {
			return err
		}
		if jobID == 0 || hasJob(reports, jobID) || wait == 0 {
			out := make([]ReconcileReportResponse, 0, len(reports))
			for _, r := range reports {
				repairs := make([]wire.Repair, 0, len(r.Repairs))
				for _, rp := range r.Repairs {
					repairs = append(repairs, wire.Repair(rp))
				}
				out = append(out, ReconcileReportResponse{ID: r.ID, JobID: r.JobID, Generation: r.Generation,
					Checked: r.Checked, Repairs: repairs, Outcome: tenantOutcome(r.Outcome), CreatedAt: r.CreatedAt})
			}
			return c.JSON(http.StatusOK, wire.ReconcileReports{Reports: out})
		}
		more, err := s.awaitNews(ctx, wake, deadline.C)
		if err != nil {
			return err
		}
		if !more {
			wait = 0
		}
	}
}

// tenantOutcome hides the internal error of a failed reconcile (S3 and
// database messages) from the tenant; the worker logs it for operators.
func tenantOutcome(outcome string) string {
	if strings.HasPrefix(outcome, "failed") {
		return "failed: the reconcile did not complete; the next maintenance run retries it (operators see why in the worker's log)"
	}
	return outcome
}

func hasJob(reports []store.ReconcileReport, jobID int64) bool {
	for _, r := range reports {
		if r.JobID != nil && *r.JobID == jobID {
			return true
		}
	}
	return false
}
