package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// getRound shows a round of one of the tenant's repositories to a signer.
func (s *Server) getRound(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return badRequest("round id %q is not a number", c.Param("id"))
	}
	owner, repoID, err := s.store.RoundTenant(ctx, id)
	if err != nil {
		return err
	}
	if owner != tenantOf(c).ID {
		return store.Errorf(wire.CodeNotFound, "round %d not found", id)
	}
	round, err := s.store.RoundByID(ctx, id)
	if err != nil {
		return err
	}
	rel, err := s.store.ReleaseByID(ctx, s.store.Pool, round.ReleaseID)
	if err != nil {
		return err
	}
	repo, err := s.store.RepositoryByID(ctx, repoID)
	if err != nil {
		return err
	}
	out := RoundView{ID: round.ID, Generation: round.Generation, State: round.State, Repo: repo.Name,
		Release: rel.Name, URL: s.aptURL(tenantOf(c), repo.Name), ReleaseBytes: string(round.ReleaseBytes),
		PreviousGeneration: round.Generation - 1, Changes: []RoundChangeView{}, KeepVersions: round.KeepVersions,
		Retention: []RoundRemoveView{}}
	for _, r := range round.Retention {
		out.Retention = append(out.Retention, RoundRemoveView(r))
	}
	if round.Generation > 1 {
		prev, err := s.store.CommittedInRelease(ctx, rel.ID, round.Generation-1)
		if err != nil {
			return err
		}
		out.PreviousInRelease = string(prev)
	}
	changes, err := s.store.RoundChanges(ctx, s.store.Pool, round.ID)
	if err != nil {
		return err
	}
	var ids []int64
	for _, ch := range changes {
		for _, a := range ch.Adds {
			ids = append(ids, a.PackageID)
		}
	}
	pkgs, err := s.store.PackagesByID(ctx, ids)
	if err != nil {
		return err
	}
	files, err := s.roundFileLists(ctx, rel, ids)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		v := RoundChangeView{ID: ch.ID, TokenID: ch.TokenID, TokenName: ch.TokenName,
			Adds: []RoundAddView{}, Removes: []RoundRemoveView{}, Update: roundUpdateView(ch.Settings)}
		if ch.JobID != nil {
			v.JobID = *ch.JobID
		}
		for _, a := range ch.Adds {
			p, ok := pkgs[a.PackageID]
			if !ok {
				return fmt.Errorf("change %d adds unknown package %d", ch.ID, a.PackageID)
			}
			v.Adds = append(v.Adds, RoundAddView{SHA256: p.SHA256, Name: p.Name, Version: p.Version,
				Architecture: p.Architecture, Component: a.Component, Filename: a.Filename, Size: p.Size,
				MD5: p.MD5, SHA1: p.SHA1, SHA512: p.SHA512, Control: p.Control, Files: files[a.PackageID]})
		}
		for _, r := range ch.Removes {
			v.Removes = append(v.Removes, RoundRemoveView(r))
		}
		out.Changes = append(out.Changes, v)
	}
	return c.JSON(http.StatusOK, out)
}

// roundFileLists returns the file lists of the packages a round adds, for
// a release with Contents on (nil otherwise).
func (s *Server) roundFileLists(ctx context.Context, rel store.Release, ids []int64) (map[int64][]string, error) {
	if !rel.Contents {
		return nil, nil
	}
	stored, err := s.store.PackageFileLists(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]string, len(stored))
	for id, list := range stored {
		files, err := apt.DecodeFileList(list)
		if err != nil {
			return nil, fmt.Errorf("package %d: %w", id, err)
		}
		out[id] = files
	}
	return out, nil
}
