package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// maxChangeItems keeps one change to a size a round can carry.
const maxChangeItems = 1000

// submitChange validates a change and then, in one transaction, claims
// the added packages' versions and pool paths, records the change and
// enqueues its job: a 202 means the change is durable, and a change refused
// or failed leaves no claim behind. The worker puts the pool files in place
// once the change is committed, so nothing of a change that is never
// published becomes readable.
func (s *Server) submitChange(c echo.Context) error {
	ctx := c.Request().Context()
	tenant := tenantOf(c)
	repo, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req ChangeRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	// Components and architectures as the round will have them: a pending
	// update may add or remove some.
	unpublished, err := s.store.UnpublishedUpdates(ctx, rel.ID)
	if err != nil {
		return err
	}
	rel = store.WithSettings(rel, unpublished)
	if len(req.Adds)+len(req.Removes) == 0 {
		return invalidField("adds", "a change needs at least one add or remove")
	}
	if len(req.Adds)+len(req.Removes) > maxChangeItems {
		return invalidField("adds", "a change holds at most %d adds and removes", maxChangeItems)
	}

	adds := make([]store.ChangeAdd, 0, len(req.Adds))
	for i, a := range req.Adds {
		field := fmt.Sprintf("adds[%d]", i)
		if err := checkComponent(rel, a.Component, field+".component"); err != nil {
			return err
		}
		if !sha256Re.MatchString(a.SHA256) {
			return invalidField(field+".sha256", "%q is not a lowercase hex SHA-256", a.SHA256)
		}
		p, err := s.store.PackageBySHA256(ctx, tenant.ID, a.SHA256)
		if errors.Is(err, store.ErrNotFound) {
			e := store.Errorf(wire.CodeUnknownPackage, "no uploaded package has SHA-256 %s", a.SHA256)
			e.Details = map[string]any{"sha256": a.SHA256}
			return e
		}
		if err != nil {
			return err
		}
		if err := checkArch(rel, p.Architecture, field); err != nil {
			return err
		}
		filename := poolPath(a.Component, p)
		// The worker must be able to write every pool file a committed
		// generation names; a key S3 refuses would stall the release.
		if !validKey(repo.Prefix + filename) {
			return invalidField(field+".sha256", "package %.64s %.64s would be stored at a path S3 cannot hold", p.Name, p.Version)
		}
		adds = append(adds, store.ChangeAdd{PackageID: p.ID, Component: a.Component, Architecture: p.Architecture,
			Filename: filename})
	}
	for i, r := range req.Removes {
		if err := checkComponent(rel, r.Component, fmt.Sprintf("removes[%d].component", i)); err != nil {
			return err
		}
		// Checked as an upload's control fields are: a remove's values
		// reach the round's change list, which the signer reads (G9).
		if err := apt.CheckPackageName(r.Name); err != nil {
			return invalidField(fmt.Sprintf("removes[%d].name", i), "%v", err)
		}
		if err := apt.CheckVersion(r.Version); err != nil {
			return invalidField(fmt.Sprintf("removes[%d].version", i), "%v", err)
		}
		if err := apt.CheckArchitecture(r.Architecture); err != nil {
			return invalidField(fmt.Sprintf("removes[%d].architecture", i), "%v", err)
		}
		if err := checkArch(rel, r.Architecture, fmt.Sprintf("removes[%d].architecture", i)); err != nil {
			return err
		}
	}

	removes := make([]store.ChangeRemove, 0, len(req.Removes))
	for _, r := range req.Removes {
		removes = append(removes, store.ChangeRemove(r))
	}
	var change store.Change
	var jobID int64
	if req.ChangesFile != "" {
		if err := s.checkChangesFile(c, req.ChangesFile); err != nil {
			return err
		}
		change, jobID, err = s.enqueueAudited(c, rel, adds, removes, nil, "change.upload",
			map[string]any{"changes_file": req.ChangesFile})
	} else {
		change, jobID, err = s.enqueueChange(c, rel, adds, removes)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wire.JobRef{JobID: jobID, ChangeID: change.ID})
}

func checkComponent(rel store.Release, component, field string) error {
	if !slices.Contains(rel.Components, component) {
		return invalidField(field, "release %s has no component %q (it has %v)", rel.Name, truncateText(component), rel.Components)
	}
	return nil
}

func checkArch(rel store.Release, arch, field string) error {
	if arch != apt.ArchAll && arch != apt.ArchSource && !slices.Contains(rel.Architectures, arch) {
		return invalidField(field, "release %s has no architecture %q (it has %v)", rel.Name, truncateText(arch), rel.Architectures)
	}
	return nil
}

// enqueueChange records a change, with the token that asked for it, and its
// job in one transaction, which first claims every added package's version
// and pool path in the repository: the claims and the change stand or fall
// together. Rollback and retry claim again (a no-op for their own
// packages), so none of them can place a package over another's pool file.
func (s *Server) enqueueChange(c echo.Context, rel store.Release, adds []store.ChangeAdd, removes []store.ChangeRemove) (store.Change, int64, error) {
	return s.enqueueAudited(c, rel, adds, removes, nil, "")
}

// enqueueAudited is enqueueChange that also carries a release update
// (unless nil) and records action (unless "") in the audit log, with the
// extra details, in the same transaction.
func (s *Server) enqueueAudited(c echo.Context, rel store.Release, adds []store.ChangeAdd, removes []store.ChangeRemove,
	settings *store.ReleaseSettings, action string, extra ...map[string]any) (store.Change, int64, error) {
	ctx := c.Request().Context()
	tokenID := principalOf(c).TokenID
	var change store.Change
	var jobID int64
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		if err := s.store.ClaimAdds(ctx, tx, rel.RepositoryID, adds); err != nil {
			return err
		}
		var err error
		change, err = s.store.InsertChange(ctx, tx, rel.ID, &tokenID, adds, removes)
		if err != nil {
			return err
		}
		if settings != nil {
			if err := s.store.SetChangeSettings(ctx, tx, change.ID, *settings); err != nil {
				return err
			}
			change.Settings = settings
		}
		// The client has the grace to start following its job.
		if err := s.store.TouchClient(ctx, tx, change.ID, s.cfg.ClientGrace); err != nil {
			return err
		}
		args := jobs.PublishArgs{ChangeID: change.ID, ReleaseID: rel.ID}
		res, err := s.cfg.River.InsertTx(ctx, tx, args, args.QueueOpts(s.cfg.Partitions))
		if err != nil {
			return fmt.Errorf("enqueue publish job: %w", err)
		}
		jobID = res.Job.ID
		if err := s.store.SetChangeJob(ctx, tx, change.ID, jobID); err != nil {
			return err
		}
		if action == "" {
			return nil
		}
		details := map[string]any{"job_id": jobID, "change_id": change.ID, "adds": len(adds), "removes": len(removes)}
		if settings != nil {
			details["settings"] = settings
		}
		for _, e := range extra {
			maps.Copy(details, e)
		}
		return s.store.Audit(ctx, tx, action, c.Param("repo")+"/"+rel.Name, details)
	})
	return change, jobID, err
}
