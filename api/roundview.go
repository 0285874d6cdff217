package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/store"
)

// RoundView is everything a signer needs to check a round before it signs
// (DESIGN G9): the Release to sign, the previous generation as signed, and
// every change the round carries with the token that submitted it.
type RoundView struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	Repo       string `json:"repo"`
	Release    string `json:"release"`
	// URL is where apt clients read the repository (GET URL/dists/...).
	URL          string `json:"url"`
	ReleaseBytes string `json:"release_bytes"`
	// PreviousGeneration is Generation-1; PreviousInRelease is its InRelease
	// as committed, empty for a round of generation 1.
	PreviousGeneration int64             `json:"previous_generation"`
	PreviousInRelease  string            `json:"previous_inrelease"`
	Changes            []RoundChangeView `json:"changes"`
	// KeepVersions is the release's retention the round applied; Retention
	// what it removes after the changes (the signer checks each leaves
	// KeepVersions newer versions).
	KeepVersions int               `json:"keep_versions"`
	Retention    []RoundRemoveView `json:"retention"`
}

// RoundChangeView is one change of a round.
type RoundChangeView struct {
	ID        int64             `json:"id"`
	JobID     int64             `json:"job_id"`
	TokenID   *int64            `json:"token_id"`
	TokenName string            `json:"token_name"`
	Adds      []RoundAddView    `json:"adds"`
	Removes   []RoundRemoveView `json:"removes"`
	// Update is what the change does to the release's fields (nil: none).
	Update *RoundUpdateView `json:"update,omitempty"`
}

// RoundAddView is a package a change adds, with what its stanza is
// rendered from.
type RoundAddView struct {
	SHA256       string `json:"sha256"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
	Filename     string `json:"filename"`
	Size         int64  `json:"size"`
	MD5          string `json:"md5"`
	SHA1         string `json:"sha1"`
	SHA512       string `json:"sha512"`
	// Control is the control paragraph as uploaded.
	Control string `json:"control"`
	// Files is the package's file list, which the release's Contents
	// indices list; null unless the release has Contents on.
	Files []string `json:"files"`
}

// RoundRemoveView is a package a change removes.
type RoundRemoveView struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

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
		return store.Errorf(store.CodeNotFound, "round %d not found", id)
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
