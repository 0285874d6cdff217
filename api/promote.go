package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// copyPackages copies packages already in one release of the repository
// into another: the same uploaded content, no upload. Specs resolve against
// the source's committed packages; what the target already holds is left
// as it is.
func (s *Server) copyPackages(c echo.Context) error {
	ctx := c.Request().Context()
	repo, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req CopyRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.All == (len(req.Specs) > 0) {
		return invalidField("specs", "name packages to copy, or all, not both")
	}
	if !releaseNameRe.MatchString(req.FromRelease) {
		return invalidField("from_release", "%q is not a release name", truncateText(req.FromRelease))
	}
	src, err := s.store.Release(ctx, repo.ID, req.FromRelease)
	if err != nil {
		return err
	}
	comps := src.Components
	if req.FromComponent != "" {
		if err := checkComponent(src, req.FromComponent, "from_component"); err != nil {
			return err
		}
		comps = []string{req.FromComponent}
	}
	if req.Component != "" {
		if err := checkComponent(rel, req.Component, "component"); err != nil {
			return err
		}
	}
	specs, err := parseSpecs(req.Specs, src.Architectures)
	if err != nil {
		return err
	}
	members, err := s.store.Members(ctx, src.ID, comps, memberArchs(src.Architectures))
	if err != nil {
		return err
	}
	if !req.All {
		if members, err = matchSpecs(members, specs, req.IgnoreMissing); err != nil {
			return err
		}
	}
	target := func(m store.Member) string { return cmp.Or(req.Component, m.Component) }
	var targetComps []string
	for _, m := range members {
		if err := checkComponent(rel, target(m), "component"); err != nil {
			return err
		}
		targetComps = append(targetComps, target(m))
	}
	there, err := s.store.Members(ctx, rel.ID, targetComps, memberArchs(rel.Architectures))
	if err != nil {
		return err
	}
	type key struct {
		component string
		id        int64
	}
	seen := map[key]bool{}
	for _, m := range there {
		seen[key{m.Component, m.Package.ID}] = true
	}
	out := PlanResponse{DryRun: req.DryRun, Items: []PlanItem{}}
	var adds []store.ChangeAdd
	for _, m := range members {
		p, comp := m.Package, target(m)
		if seen[key{comp, p.ID}] {
			out.Unchanged++
			continue
		}
		seen[key{comp, p.ID}] = true
		if err := checkArch(rel, p.Architecture, "specs"); err != nil {
			return err
		}
		filename := poolPath(comp, p)
		if !validKey(repo.Prefix + filename) {
			return invalidField("specs", "package %.64s %.64s would be stored at a path S3 cannot hold", p.Name, p.Version)
		}
		adds = append(adds, store.ChangeAdd{PackageID: p.ID, Component: comp, Architecture: p.Architecture, Filename: filename})
		out.Items = append(out.Items, PlanItem{Op: "+", Name: p.Name, Version: p.Version, Architecture: p.Architecture, Component: comp})
	}
	return s.submitPlan(c, rel, adds, nil, out)
}

// removePackages removes every package of a component that the specs
// select in the release's committed membership: NAME removes all its
// versions.
func (s *Server) removePackages(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req RemovalRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := checkComponent(rel, req.Component, "component"); err != nil {
		return err
	}
	if len(req.Specs) == 0 {
		return invalidField("specs", "name at least one package to remove")
	}
	specs, err := parseSpecs(req.Specs, rel.Architectures)
	if err != nil {
		return err
	}
	members, err := s.store.Members(ctx, rel.ID, []string{req.Component}, memberArchs(rel.Architectures))
	if err != nil {
		return err
	}
	if members, err = matchSpecs(members, specs, req.IgnoreMissing); err != nil {
		return err
	}
	removes := make([]store.ChangeRemove, 0, len(members))
	for _, m := range members {
		removes = append(removes, store.ChangeRemove{Name: m.Package.Name, Version: m.Package.Version,
			Architecture: m.Package.Architecture, Component: m.Component})
	}
	return s.submitPlan(c, rel, nil, removes, PlanResponse{DryRun: req.DryRun})
}

// prune removes once what a retention of Keep versions would: all but the
// newest Keep versions (dpkg order) of each (name, architecture).
func (s *Server) prune(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req PruneRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Keep < 1 || req.Keep > maxKeepVersions {
		return invalidField("keep", "keep must be from 1 to %d, not %d", maxKeepVersions, req.Keep)
	}
	var comps []string
	if req.Component != "" {
		if err := checkComponent(rel, req.Component, "component"); err != nil {
			return err
		}
		comps = []string{req.Component}
	}
	cands, err := s.store.RetentionCandidates(ctx, s.store.Pool, rel.ID, req.Keep, comps, nil)
	if err != nil {
		return err
	}
	return s.submitPlan(c, rel, nil, store.RetentionDrops(cands, req.Keep), PlanResponse{DryRun: req.DryRun})
}

// DefaultMaxPlanPackages bounds a change the server plans (copy, removals,
// prune) unless Config.MaxPlanPackages says otherwise. Such a change is not
// held to the client-submitted limit (maxChangeItems): a snapshot promotion
// must reach apt clients as one generation, never half of it, so the whole
// plan goes into one change and one round. The bound keeps that round's
// size in check: its view (GET /v1/rounds/{id}), which the signer reads
// whole, is about 1 KB per added package.
const DefaultMaxPlanPackages = 200_000

// MaxPlanPackagesLimit is the largest bound an operator may configure: the
// default package quota of a repository.
const MaxPlanPackagesLimit = 1_000_000

// submitPlan answers with the plan and, unless it is a dry run or changes
// nothing, submits it as one change, claimed and enqueued as rollback's.
func (s *Server) submitPlan(c echo.Context, rel store.Release, adds []store.ChangeAdd, removes []store.ChangeRemove, out PlanResponse) error {
	if out.Items == nil {
		out.Items = []PlanItem{}
	}
	for _, r := range removes {
		out.Items = append(out.Items, PlanItem{Op: "-", Name: r.Name, Version: r.Version, Architecture: r.Architecture, Component: r.Component})
	}
	if n, limit := len(adds)+len(removes), s.cfg.MaxPlanPackages; n > limit {
		e := store.Errorf(wire.CodeTooManyMatches, "this changes %d packages; a change the server plans holds at most %d "+
			"(max_plan_packages): select fewer (e.g. by component or by name) and run it in parts", n, limit)
		e.Details = map[string]any{"matched": n, "limit": limit, "bound": "max_plan_packages"}
		return e
	}
	if out.DryRun || len(adds)+len(removes) == 0 {
		return c.JSON(http.StatusOK, out)
	}
	change, jobID, err := s.enqueueChange(c, rel, adds, removes)
	if err != nil {
		return err
	}
	out.JobID, out.ChangeID = &jobID, &change.ID
	return c.JSON(http.StatusAccepted, out)
}

// parseSpecs reads each spec against the architectures it may name.
func parseSpecs(texts []string, archs []string) ([]store.Spec, error) {
	if len(texts) > maxChangeItems {
		return nil, invalidField("specs", "at most %d specs in one request, not %d", maxChangeItems, len(texts))
	}
	specs := make([]store.Spec, 0, len(texts))
	for i, t := range texts {
		sp, err := store.ParseSpec(t, archs)
		if err != nil {
			return nil, invalidField(fmt.Sprintf("specs[%d]", i), "%.300v; a spec is NAME, NAME=VERSION or NAME=VERSION:ARCH", err)
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// matchSpecs returns the members the specs select; a spec that selects
// nothing is an error naming it, unless ignoreMissing.
func matchSpecs(members []store.Member, specs []store.Spec, ignoreMissing bool) ([]store.Member, error) {
	matched, unmatched := store.MatchSpecs(members, specs)
	if len(unmatched) > 0 && !ignoreMissing {
		texts := make([]string, len(unmatched))
		for i, sp := range unmatched {
			texts[i] = sp.Text
		}
		e := store.Errorf(wire.CodeUnmatchedSpec, "%d spec(s) match no package: %.300s (--ignore-missing skips them)",
			len(texts), fmt.Sprint(texts))
		e.Details = map[string]any{"specs": texts}
		return nil, e
	}
	return matched, nil
}

// memberArchs are the architectures of the packages a release with archs
// may hold: its own, "all", and "source" (source packages).
func memberArchs(archs []string) []string {
	return append(slices.Clone(archs), apt.ArchAll, apt.ArchSource)
}
