package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

func releaseResponse(r store.Release) ReleaseResponse {
	var validFor string
	if r.ValidFor != nil {
		validFor = r.ValidFor.String()
	}
	return ReleaseResponse{ValidFor: validFor, Name: r.Name, Origin: r.Origin, Label: r.Label, Suite: r.Suite,
		Codename: r.Codename, Version: r.Version, Description: r.Description, Components: r.Components,
		Architectures: r.Architectures, Compressions: r.Compressions, Generation: r.Generation,
		PublishedGeneration: r.PublishedGeneration, CreatedAt: r.CreatedAt, KeepVersions: r.KeepVersions, NotAutomatic: r.NotAutomatic,
		ButAutomaticUpgrades: r.ButAutomaticUpgrades, SignedBy: r.SignedBy, Deleting: r.DeletingAt != nil, Contents: r.Contents}
}

var (
	// releaseNameRe repeats releases_name_check, so that a bad name is
	// reported before the fields that default to it (suite, codename).
	releaseNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	componentRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	archRe        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
)

// Limits on a release, so that one request cannot make every later round
// generate and sign millions of indexes: Debian itself has 4 components
// and about 10 architectures.
const (
	// maxKeepVersions repeats releases_keep_versions_check.
	maxKeepVersions  = 10000
	maxComponents    = 64
	maxArchitectures = 64
	maxReleaseText   = 200
)

// checkReleaseText accepts a field of the Release file: one line of
// printable UTF-8, since a newline or a control character would let the
// value add or break fields of the file apt reads; without leading or
// trailing space, which the file cannot keep (a signer would then see
// another value than the one it was told of).
func checkReleaseText(field, v string) error {
	ok := utf8.ValidString(v) && len(v) <= maxReleaseText && strings.TrimSpace(v) == v
	for _, r := range v {
		ok = ok && !unicode.IsControl(r)
	}
	if !ok {
		return invalidField(field, "%s must be one line of printable UTF-8 text, at most %d bytes, not starting or ending with a space", field, maxReleaseText)
	}
	return nil
}

// truncateText shortens a client's value for an error message.
func truncateText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func invalidField(field, format string, args ...any) error {
	e := store.Errorf(wire.CodeInvalid, format, args...)
	e.Details = map[string]any{"field": field}
	return e
}

// validateRelease applies defaults and checks every field that ends up in a
// Release file, where a newline or a non-UTF-8 byte would corrupt it.
func validateRelease(req *ReleaseRequest, repoName string) error {
	if req.Suite == "" {
		req.Suite = req.Name
	}
	if req.Codename == "" {
		req.Codename = req.Name
	}
	if req.Origin == "" {
		req.Origin = repoName
	}
	if req.Label == "" {
		req.Label = repoName
	}
	if len(req.Components) == 0 {
		req.Components = []string{"main"}
	}
	if len(req.Architectures) == 0 {
		req.Architectures = []string{"amd64"}
	}
	if req.Compressions == nil {
		req.Compressions = []string{"gz", "xz"}
	}
	if !releaseNameRe.MatchString(req.Name) {
		return store.ErrReleaseName
	}
	for _, f := range []struct{ name, value string }{{"origin", req.Origin}, {"label", req.Label},
		{"suite", req.Suite}, {"codename", req.Codename}, {"version", req.Version}, {"description", req.Description}} {
		if err := checkReleaseText(f.name, f.value); err != nil {
			return err
		}
	}
	if len(req.Components) > maxComponents {
		return invalidField("components", "a release has at most %d components, not %d", maxComponents, len(req.Components))
	}
	if len(req.Architectures) > maxArchitectures {
		return invalidField("architectures", "a release has at most %d architectures, not %d", maxArchitectures, len(req.Architectures))
	}
	for _, c := range req.Components {
		if !componentRe.MatchString(c) {
			return invalidField("components", "component %q is not a valid name", truncateText(c))
		}
	}
	for _, a := range req.Architectures {
		if !archRe.MatchString(a) || a == "all" || a == "source" {
			return invalidField("architectures", "architecture %q is not a valid binary architecture", truncateText(a))
		}
	}
	for _, c := range req.Compressions {
		if c != "none" && c != "gz" && c != "xz" {
			return invalidField("compressions", "compression %q is not one of none, gz, xz", truncateText(c))
		}
	}
	// The uncompressed Packages is always listed, but stored only with
	// "none": a release without any would list files S3 never holds.
	if len(req.Compressions) == 0 {
		return invalidField("compressions", "compressions must name at least one of none, gz, xz")
	}
	if req.ValidFor != "" {
		d, err := parseDays(req.ValidFor)
		if err != nil || d < time.Hour {
			return invalidField("valid_for", "valid_for %q is not a duration of at least 1h, like 7d or 36h", truncateText(req.ValidFor))
		}
	}
	if req.KeepVersions < 0 || req.KeepVersions > maxKeepVersions {
		return invalidField("keep_versions", "keep_versions must be from 0 (keep all) to %d, not %d", maxKeepVersions, req.KeepVersions)
	}
	if hasDup(req.Components) || hasDup(req.Architectures) || hasDup(req.Compressions) {
		return invalidField("components", "components, architectures and compressions must not repeat")
	}
	return validateOptions(req)
}

func hasDup(xs []string) bool {
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

func (s *Server) createRelease(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	var req ReleaseRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := validateRelease(&req, repo.Name); err != nil {
		return err
	}
	var validFor *time.Duration
	if req.ValidFor != "" {
		d, _ := parseDays(req.ValidFor)
		validFor = &d
	}
	rel, err := s.store.CreateRelease(c.Request().Context(), store.Release{RepositoryID: repo.ID, ValidFor: validFor,
		Name: req.Name, Origin: req.Origin, Label: req.Label, Suite: req.Suite, Codename: req.Codename,
		Version: req.Version, Description: req.Description, Components: req.Components,
		Architectures: req.Architectures, Compressions: req.Compressions, KeepVersions: req.KeepVersions,
		NotAutomatic: req.NotAutomatic, ButAutomaticUpgrades: req.ButAutomaticUpgrades, SignedBy: req.SignedBy,
		Contents: req.Contents == nil || *req.Contents})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, releaseResponse(rel))
}

func (s *Server) listReleases(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	rels, err := s.store.Releases(c.Request().Context(), repo.ID)
	if err != nil {
		return err
	}
	out := make([]ReleaseResponse, 0, len(rels))
	for _, r := range rels {
		out = append(out, releaseResponse(r))
	}
	return c.JSON(http.StatusOK, wire.ReleaseList{Releases: out})
}

func (s *Server) getRelease(c echo.Context) error {
	_, rel, err := s.releaseFromPath(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, releaseResponse(rel))
}

// parseDays reads a Go duration, also with a whole-day suffix ("7d").
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (s *Server) releaseFromPath(c echo.Context) (store.Repository, store.Release, error) {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return repo, store.Release{}, err
	}
	rel, err := s.store.Release(c.Request().Context(), repo.ID, c.Param("release"))
	return repo, rel, err
}
