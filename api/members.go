package api

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/wire"
)

// listPackages lists the members of the release's last committed
// generation, filtered by component, name and architecture.
func (s *Server) listPackages(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	comps, archs := rel.Components, memberArchs(rel.Architectures)
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
	return c.JSON(http.StatusOK, wire.ReleasePackageList{Packages: out})
}
