package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// jobActor is the request's token, for the audit entry the delete job
// writes when it ends.
func jobActor(c echo.Context) jobs.Actor {
	p := principalOf(c)
	return jobs.Actor{TenantID: p.Tenant.ID, TokenID: p.TokenID, TokenName: p.TokenName}
}

// deleteRelease marks the release as being deleted and enqueues the job
// that removes it from S3 and the database, in one transaction: the 202
// means the delete will finish, whatever crashes meanwhile.
func (s *Server) deleteRelease(c echo.Context) error {
	ctx := c.Request().Context()
	repo, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var jobID int64
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		locked, err := s.store.RequestReleaseDelete(ctx, tx, rel.ID)
		if err != nil {
			return err
		}
		res, err := s.cfg.River.InsertTx(ctx, tx, jobs.DeleteReleaseArgs{ReleaseID: rel.ID, Actor: jobActor(c)}, nil)
		if err != nil {
			return fmt.Errorf("enqueue release delete: %w", err)
		}
		jobID = res.Job.ID
		return s.store.Audit(ctx, tx, "release.delete", repo.Name+"/"+rel.Name,
			map[string]any{"job_id": jobID, "generation": locked.Generation})
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, DeleteResponse{JobID: jobID})
}

// deleteRepo marks the repository and its releases as being deleted and
// enqueues the job that removes them, in one transaction.
func (s *Server) deleteRepo(c echo.Context) error {
	ctx := c.Request().Context()
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	var jobID int64
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		if err := s.store.RequestRepositoryDelete(ctx, tx, repo.ID); err != nil {
			return err
		}
		res, err := s.cfg.River.InsertTx(ctx, tx, jobs.DeleteRepositoryArgs{RepositoryID: repo.ID, Actor: jobActor(c)}, nil)
		if err != nil {
			return fmt.Errorf("enqueue repository delete: %w", err)
		}
		jobID = res.Job.ID
		return s.store.Audit(ctx, tx, "repo.delete", repo.Name, map[string]any{"job_id": jobID})
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, DeleteResponse{JobID: jobID})
}
