package api

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

func (s *Server) removeKey(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	if err := s.store.RemoveSigningKey(c.Request().Context(), repo.ID, c.Param("fingerprint")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) releaseFromPath(c echo.Context) (store.Repository, store.Release, error) {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return repo, store.Release{}, err
	}
	rel, err := s.store.Release(c.Request().Context(), repo.ID, c.Param("release"))
	return repo, rel, err
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
// (unless nil) and records action (unless "") in the audit log, in the
// same transaction.
func (s *Server) enqueueAudited(c echo.Context, rel store.Release, adds []store.ChangeAdd, removes []store.ChangeRemove,
	settings *store.ReleaseSettings, action string) (store.Change, int64, error) {
	ctx := c.Request().Context()
	tokenID := principalOf(c).TokenID
	var change store.Change
	var jobID int64
	err := s.store.InTx(ctx, func(tx pgx.Tx) error {
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
		return s.store.Audit(ctx, tx, action, c.Param("repo")+"/"+rel.Name, details)
	})
	return change, jobID, err
}

// resign publishes a new generation with the same indexes: a new Date,
// Valid-Until and signatures (expiry refresh, key rotation).
func (s *Server) resign(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	change, jobID, err := s.enqueueAudited(c, rel, nil, nil, nil, "release.resign")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"job_id": jobID, "change_id": change.ID})
}

// rollback makes generation N's membership current again, as a new generation.
func (s *Server) rollback(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req struct {
		Generation int64 `json:"generation"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Generation < 1 || req.Generation > rel.Generation {
		return invalidField("generation", "release %s has generations 1 to %d", rel.Name, rel.Generation)
	}
	target, err := s.store.MembershipAt(ctx, rel.ID, req.Generation)
	if err != nil {
		return err
	}
	current, err := s.store.Members(ctx, rel.ID, rel.Components, append(slices.Clone(rel.Architectures), "all"))
	if err != nil {
		return err
	}
	type key struct {
		component string
		id        int64
	}
	want := map[key]bool{}
	for _, a := range target {
		want[key{a.Component, a.PackageID}] = true
	}
	have := map[key]bool{}
	var removes []store.ChangeRemove
	for _, m := range current {
		k := key{m.Component, m.Package.ID}
		have[k] = true
		if !want[k] {
			removes = append(removes, store.ChangeRemove{Name: m.Package.Name, Version: m.Package.Version,
				Architecture: m.Package.Architecture, Component: m.Component})
		}
	}
	var adds []store.ChangeAdd
	for _, a := range target {
		if !have[key{a.Component, a.PackageID}] {
			adds = append(adds, a)
		}
	}
	// Pool files of packages removed since may have been collected: the
	// worker puts them back once the change is committed.
	change, jobID, err := s.enqueueAudited(c, rel, adds, removes, nil, "release.rollback")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"job_id": jobID, "change_id": change.ID})
}

// GenerationResponse is one committed generation in a release's history.
type GenerationResponse struct {
	Generation  int64      `json:"generation"`
	Date        time.Time  `json:"date"`
	RoundID     int64      `json:"round_id"`
	Changes     int        `json:"changes"`
	Adds        int        `json:"adds"`
	Removes     int        `json:"removes"`
	Signers     []string   `json:"signers"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	// Submitters are the tokens whose changes it published; SignedBy the
	// token whose signature was accepted.
	Submitters []TokenRef `json:"submitters"`
	SignedBy   *TokenRef  `json:"signed_by,omitempty"`
	// Retention is what the release's retention removed in the generation.
	Retention []RoundRemoveView `json:"retention"`
}

func (s *Server) history(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return badRequest("limit must be a number from 1 to 1000")
		}
	}
	gens, err := s.store.History(c.Request().Context(), rel.ID, limit)
	if err != nil {
		return err
	}
	out := make([]GenerationResponse, 0, len(gens))
	for _, g := range gens {
		gen := GenerationResponse{Generation: g.Generation, Date: g.Date, RoundID: g.RoundID, Changes: g.Changes,
			Adds: g.Adds, Removes: g.Removes, Signers: g.Signers, PublishedAt: g.PublishedAt,
			Submitters: make([]TokenRef, 0, len(g.Submitters)), SignedBy: tokenRef(g.SignedBy),
			Retention: make([]RoundRemoveView, 0, len(g.Retention))}
		for _, r := range g.Retention {
			gen.Retention = append(gen.Retention, RoundRemoveView(r))
		}
		for _, t := range g.Submitters {
			gen.Submitters = append(gen.Submitters, TokenRef{ID: t.ID, Name: t.Name})
		}
		out = append(out, gen)
	}
	return c.JSON(http.StatusOK, map[string]any{"generations": out})
}

// MemberResponse is a package in a release.
type MemberResponse struct {
	Component    string `json:"component"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	Filename     string `json:"filename"`
	Control      string `json:"control"`
	// FileCount is the number of files the package's data.tar holds, which
	// Contents indices list (absent for a package uploaded before aptq
	// read file lists, until a Contents round reads it).
	FileCount *int `json:"file_count,omitempty"`
}

func (s *Server) listPackages(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	comps, archs := rel.Components, append(slices.Clone(rel.Architectures), "all")
	if v := c.QueryParam("component"); v != "" {
		comps = []string{v}
	}
	if v := c.QueryParam("architecture"); v != "" {
		archs = []string{v}
	}
	members, err := s.store.Members(c.Request().Context(), rel.ID, comps, archs)
	if err != nil {
		return err
	}
	name := c.QueryParam("name")
	out := make([]MemberResponse, 0, len(members))
	for _, m := range members {
		p := m.Package
		if name != "" && p.Name != name {
			continue
		}
		out = append(out, MemberResponse{Component: m.Component, Name: p.Name, Version: p.Version,
			Architecture: p.Architecture, SHA256: p.SHA256, Size: p.Size, Filename: m.Filename, Control: p.Control,
			FileCount: p.FileCount})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if v := apt.CompareVersions(a.Version, b.Version); v != 0 {
			return v < 0
		}
		if a.Architecture != b.Architecture {
			return a.Architecture < b.Architecture
		}
		return a.Component < b.Component
	})
	return c.JSON(http.StatusOK, map[string]any{"packages": out})
}
