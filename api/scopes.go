package api

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// Scopes as routes state them (store.Scope*): read < publish < admin.
const (
	read    = store.ScopeRead
	publish = store.ScopePublish
	admin   = store.ScopeAdmin
)

// repoFinder names the repository a request acts on when the path does not
// (a job's, a round's); ok is false when there is none to check, e.g. the
// resource is unknown or another tenant's: the handler then answers 404 as
// it would for anyone, so a 403 never tells that another tenant's exists.
type repoFinder func(s *Server, c echo.Context, p store.Principal) (repo string, ok bool, err error)

// scope admits a tenant's token whose scope is at least need and, for a
// token limited to some repositories, only on those: the :repo of the path,
// and what the finders name. Operator tokens pass: the routes open to them
// check them on their own.
func (s *Server) scope(need string, finders ...repoFinder) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principalOf(c)
			if p.Admin {
				return next(c)
			}
			if !store.ScopeAllows(p.Scope, need) {
				e := store.Errorf(wire.CodeForbidden, "this needs a token of scope %s; this one is %s", need, p.Scope)
				e.Details = map[string]any{"scope_needed": need, "scope": p.Scope}
				return e
			}
			if repo := c.Param("repo"); repo != "" && !p.MayUseRepo(repo) {
				return repoForbidden(p, repo)
			}
			for _, find := range finders {
				repo, ok, err := find(s, c, p)
				if err != nil {
					return err
				}
				if ok && !p.MayUseRepo(repo) {
					return repoForbidden(p, repo)
				}
			}
			return next(c)
		}
	}
}

func repoForbidden(p store.Principal, repo string) error {
	e := store.Errorf(wire.CodeForbidden, "this token may act only on the repositories %s, not %s",
		strings.Join(p.Repos, ", "), repo)
	e.Details = map[string]any{"repo": repo}
	return e
}

// jobRepo is the repository of the job in the path (/jobs/:id).
func jobRepo(s *Server, c echo.Context, p store.Principal) (string, bool, error) {
	return ownedRepo(c, p, s.store.JobRepository)
}

// roundRepo is the repository of the round in the path (/rounds/:id).
func roundRepo(s *Server, c echo.Context, p store.Principal) (string, bool, error) {
	return ownedRepo(c, p, s.store.RoundRepository)
}

// queryRepo is the repository a listing asks for (?repo=).
func queryRepo(_ *Server, c echo.Context, _ store.Principal) (string, bool, error) {
	repo := c.QueryParam("repo")
	return repo, repo != "", nil
}

func ownedRepo(c echo.Context, p store.Principal,
	lookup func(ctx context.Context, id int64) (int64, string, error)) (string, bool, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return "", false, nil // the handler says it is not a number
	}
	tenantID, repo, err := lookup(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && tenantID != p.Tenant.ID) {
		return "", false, nil
	}
	return repo, err == nil, err
}
