package api

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// updateRelease records a release update as a change: the next round
// publishes it, signed by the client like any other.
func (s *Server) updateRelease(c echo.Context) error {
	ctx := c.Request().Context()
	repo, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req ReleaseUpdateRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if rel.DeletingAt != nil {
		return store.ErrReleaseDeleting
	}
	unpublished, err := s.store.UnpublishedUpdates(ctx, rel.ID)
	if err != nil {
		return err
	}
	before := store.WithSettings(rel, unpublished)
	settings, err := updateSettings(&req, before, repo.Name)
	if err != nil {
		return err
	}
	after := settings.Apply(before)
	if reflect.DeepEqual(before, after) {
		return c.JSON(http.StatusOK, ReleaseUpdateResponse{})
	}
	if err := s.checkRemovable(c, rel, settings); err != nil {
		return err
	}
	change, jobID, err := s.enqueueAudited(c, rel, nil, nil, &settings, "release.update")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, ReleaseUpdateResponse{Changed: true, JobID: jobID, ChangeID: change.ID})
}

// updateSettings checks an update against the release as the updates
// before it leave it, and returns what it changes, normalized.
func updateSettings(req *ReleaseUpdateRequest, before store.Release, repoName string) (store.ReleaseSettings, error) {
	for _, l := range []struct {
		field  string
		n, max int
	}{{"add_components", len(req.AddComponents), maxComponents}, {"remove_components", len(req.RemoveComponents), maxComponents},
		{"add_architectures", len(req.AddArchitectures), maxArchitectures},
		{"remove_architectures", len(req.RemoveArchitectures), maxArchitectures}, {"compressions", len(req.Compressions), 3}} {
		if l.n > l.max {
			return store.ReleaseSettings{}, invalidField(l.field, "%s lists at most %d names, not %d", l.field, l.max, l.n)
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"origin", req.Origin}, {"label", req.Label}, {"suite", req.Suite}, {"codename", req.Codename}} {
		if f.v != nil && *f.v == "" {
			return store.ReleaseSettings{}, invalidField(f.name, "%s must not be empty", f.name)
		}
	}
	for _, r := range []struct {
		field       string
		list, names []string
	}{{"remove_components", before.Components, req.RemoveComponents},
		{"remove_architectures", before.Architectures, req.RemoveArchitectures}} {
		for _, n := range r.names {
			if !slices.Contains(r.list, n) {
				return store.ReleaseSettings{}, invalidField(r.field, "release %s has no %q (it has %s)",
					before.Name, truncateText(n), strings.Join(r.list, ", "))
			}
		}
	}
	st := store.ReleaseSettings{Origin: req.Origin, Label: req.Label, Suite: req.Suite, Codename: req.Codename,
		Version: req.Version, Description: req.Description, AddComponents: req.AddComponents,
		RemoveComponents: req.RemoveComponents, AddArchitectures: req.AddArchitectures,
		RemoveArchitectures: req.RemoveArchitectures, Compressions: req.Compressions,
		NotAutomatic: req.NotAutomatic, ButAutomaticUpgrades: req.ButAutomaticUpgrades, SignedBy: req.SignedBy,
		KeepVersions: req.KeepVersions, Contents: req.Contents}
	if req.ValidFor != nil {
		var secs int64
		if *req.ValidFor != "none" {
			d, err := parseDays(*req.ValidFor)
			if err != nil || d < time.Hour {
				return st, invalidField("valid_for", "valid_for %q is not none or a duration of at least 1h, like 7d or 36h",
					truncateText(*req.ValidFor))
			}
			secs = int64(d / time.Second)
		}
		st.ValidFor = &secs
	}
	after := st.Apply(before)
	if len(after.Components) == 0 || len(after.Architectures) == 0 {
		return st, invalidField("components", "a release keeps at least one component and one architecture")
	}
	// The release as updated must pass every check a new one does.
	check := ReleaseRequest{Name: after.Name, Origin: after.Origin, Label: after.Label, Suite: after.Suite,
		Codename: after.Codename, Version: after.Version, Description: after.Description,
		Components: after.Components, Architectures: after.Architectures, Compressions: after.Compressions,
		NotAutomatic: after.NotAutomatic, ButAutomaticUpgrades: after.ButAutomaticUpgrades, SignedBy: after.SignedBy,
		KeepVersions: after.KeepVersions}
	if err := validateRelease(&check, repoName); err != nil {
		return st, err
	}
	if st.SignedBy != nil {
		st.SignedBy = &check.SignedBy
	}
	return st, nil
}

// maxHoldingNames bounds the package names a refused removal lists.
const maxHoldingNames = 10

// checkRemovable refuses (409) to remove a component or an architecture
// that holds packages, or that a pending change adds to, naming them.
func (s *Server) checkRemovable(c echo.Context, rel store.Release, st store.ReleaseSettings) error {
	if len(st.RemoveComponents) == 0 && len(st.RemoveArchitectures) == 0 {
		return nil
	}
	ctx := c.Request().Context()
	comps, archs, err := s.store.Holdings(ctx, rel.ID)
	if err != nil {
		return err
	}
	refuse := func(kind, name string, n int64, comps, archs []string) error {
		members, err := s.store.Members(ctx, rel.ID, comps, archs)
		if err != nil {
			return err
		}
		var names []string
		for _, m := range members {
			if len(names) == maxHoldingNames {
				break
			}
			names = append(names, m.Package.Name+"_"+m.Package.Version+"_"+m.Package.Architecture)
		}
		e := store.Errorf(wire.CodeConflict, "%s %s holds %d packages (published or pending), e.g. %s; remove them first",
			kind, name, n, strings.Join(names, ", "))
		e.Details = map[string]any{kind: name, "packages": n, "examples": names}
		return e
	}
	for _, comp := range st.RemoveComponents {
		if n := comps[comp]; n > 0 {
			return refuse("component", comp, n, []string{comp}, memberArchs(rel.Architectures))
		}
	}
	for _, arch := range st.RemoveArchitectures {
		if n := archs[arch]; n > 0 {
			return refuse("architecture", arch, n, rel.Components, []string{arch})
		}
	}
	return nil
}
