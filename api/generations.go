package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

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
	return c.JSON(http.StatusAccepted, wire.JobRef{JobID: jobID, ChangeID: change.ID})
}

// rollback makes generation N's membership current again, as a new generation.
func (s *Server) rollback(c echo.Context) error {
	ctx := c.Request().Context()
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	var req wire.RollbackRequest
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
	current, err := s.store.Members(ctx, rel.ID, rel.Components, memberArchs(rel.Architectures))
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
	return c.JSON(http.StatusAccepted, wire.JobRef{JobID: jobID, ChangeID: change.ID})
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
	return c.JSON(http.StatusOK, wire.History{Generations: out})
}
