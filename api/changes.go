package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// ChangeRequest asks for packages to be added to or removed from a release.
type ChangeRequest struct {
	Adds []struct {
		SHA256    string `json:"sha256"`
		Component string `json:"component"`
	} `json:"adds"`
	Removes []store.ChangeRemove `json:"removes"`
}

// maxChangeItems keeps one change to a size a round can carry.
const maxChangeItems = 1000

// submitChange validates a change, puts the added packages at their pool
// paths (before the change is accepted, so no index can name a missing
// file), and then, in one transaction, records the change and enqueues its
// job. A 202 means the change is durable.
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
	if len(req.Adds)+len(req.Removes) == 0 {
		return invalidField("adds", "a change needs at least one add or remove")
	}
	if len(req.Adds)+len(req.Removes) > maxChangeItems {
		return invalidField("adds", "a change holds at most %d adds and removes", maxChangeItems)
	}

	adds := make([]store.ChangeAdd, 0, len(req.Adds))
	var pkgs []store.Package
	for i, a := range req.Adds {
		if err := checkComponent(rel, a.Component, fmt.Sprintf("adds[%d].component", i)); err != nil {
			return err
		}
		if !sha256Re.MatchString(a.SHA256) {
			return invalidField(fmt.Sprintf("adds[%d].sha256", i), "%q is not a lowercase hex SHA-256", a.SHA256)
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
		if err := checkArch(rel, p.Architecture, fmt.Sprintf("adds[%d]", i)); err != nil {
			return err
		}
		pkgs = append(pkgs, p)
		adds = append(adds, store.ChangeAdd{PackageID: p.ID, Component: a.Component, Architecture: p.Architecture,
			Filename: apt.PoolPath(a.Component, p.Source, p.Name, p.Version, p.Architecture)})
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

	for i, p := range pkgs {
		if err := s.store.ClaimInRepository(ctx, repo.ID, p); err != nil {
			return err
		}
		if err := s.ensurePoolObject(ctx, repo, p, adds[i].Filename); err != nil {
			return err
		}
	}

	change, jobID, err := s.enqueueChange(c, rel, adds, req.Removes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"job_id": jobID, "change_id": change.ID})
}

// ensurePoolObject copies the uploaded package to its pool path unless it
// is there already. The path is claimed for this content (ClaimInRepository),
// so an object found there holds these bytes.
func (s *Server) ensurePoolObject(ctx context.Context, repo store.Repository, p store.Package, filename string) error {
	key := repo.Prefix + filename
	info, err := s.blob.Head(ctx, key)
	if err == nil && info.Size == p.Size {
		return nil
	}
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("check pool object %s: %w", key, err)
	}
	if _, err := s.blob.Copy(ctx, store.PackageBlobKey(p.TenantID, p.SHA256), key); err != nil {
		return fmt.Errorf("copy package to %s: %w", key, err)
	}
	return nil
}

func checkComponent(rel store.Release, component, field string) error {
	if !slices.Contains(rel.Components, component) {
		return invalidField(field, "release %s has no component %q (it has %v)", rel.Name, truncateText(component), rel.Components)
	}
	return nil
}

func checkArch(rel store.Release, arch, field string) error {
	if arch != "all" && !slices.Contains(rel.Architectures, arch) {
		return invalidField(field, "release %s has no architecture %q (it has %v)", rel.Name, truncateText(arch), rel.Architectures)
	}
	return nil
}
