package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// ChangeRequest asks for packages to be added to or removed from a release.
type ChangeRequest struct {
	Adds []struct {
		SHA256    string `json:"sha256"`
		Component string `json:"component"`
	} `json:"adds"`
	Removes []store.ChangeRemove `json:"removes"`
	// ChangesFile, if set, is the SHA-256 of a .changes this tenant
	// uploaded (PUT /v1/files) that the change publishes: the audit log
	// records it, so operators can find the maintainer's signed upload.
	ChangesFile string `json:"changes_file"`
}

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
			e := store.Errorf(store.CodeUnknownPackage, "no uploaded package has SHA-256 %s", a.SHA256)
			e.Details = map[string]any{"sha256": a.SHA256}
			return e
		}
		if err != nil {
			return err
		}
		if err := checkArch(rel, p.Architecture, field); err != nil {
			return err
		}
		filename := apt.PoolPath(a.Component, p.Source, p.Name, p.Version, p.Architecture)
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

	var change store.Change
	var jobID int64
	if req.ChangesFile != "" {
		if err := s.checkChangesFile(c, req.ChangesFile); err != nil {
			return err
		}
		change, jobID, err = s.enqueueAudited(c, rel, adds, req.Removes, nil, "change.upload",
			map[string]any{"changes_file": req.ChangesFile})
	} else {
		change, jobID, err = s.enqueueChange(c, rel, adds, req.Removes)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"job_id": jobID, "change_id": change.ID})
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
