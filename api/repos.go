package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// aptURL is where apt clients read the repository through this API: under
// the configured external URL, never the request's Host, which a client
// chooses.
func (s *Server) aptURL(tenant store.Tenant, repo string) string {
	return s.cfg.ExternalURL + "/apt/" + tenant.Name + "/" + repo
}

func (s *Server) repoFromPath(c echo.Context) (store.Repository, error) {
	return s.store.Repository(c.Request().Context(), tenantOf(c).ID, c.Param("repo"))
}

func (s *Server) createRepo(c echo.Context) error {
	var req wire.RepoRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	repo, err := s.store.CreateRepository(c.Request().Context(), tenantOf(c), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, RepoResponse{Name: repo.Name, URL: s.aptURL(tenantOf(c), repo.Name),
		Keys: []KeyResponse{}, Releases: []ReleaseResponse{}, CreatedAt: repo.CreatedAt})
}

func (s *Server) listRepos(c echo.Context) error {
	repos, err := s.store.Repositories(c.Request().Context(), tenantOf(c).ID)
	if err != nil {
		return err
	}
	out := make([]RepoResponse, 0, len(repos))
	for _, r := range repos {
		if !principalOf(c).MayUseRepo(r.Name) {
			continue
		}
		full, err := s.repoResponse(c, r)
		if err != nil {
			return err
		}
		out = append(out, full)
	}
	return c.JSON(http.StatusOK, wire.RepoList{Repos: out})
}

func (s *Server) getRepo(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	out, err := s.repoResponse(c, repo)
	if err != nil {
		return err
	}
	q, err := s.store.RepositoryQuota(c.Request().Context(), repo.ID)
	if err != nil {
		return err
	}
	out.Quota = &QuotaResponse{Packages: q.Packages, MaxPackages: q.MaxPackages, UploadBytes: q.UploadBytes,
		MaxUploadBytes: q.MaxUploadBytes}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) repoResponse(c echo.Context, repo store.Repository) (RepoResponse, error) {
	ctx := c.Request().Context()
	keys, err := s.store.SigningKeys(ctx, s.store.Pool, repo.ID)
	if err != nil {
		return RepoResponse{}, err
	}
	rels, err := s.store.Releases(ctx, repo.ID)
	if err != nil {
		return RepoResponse{}, err
	}
	out := RepoResponse{Name: repo.Name, URL: s.aptURL(tenantOf(c), repo.Name), CreatedAt: repo.CreatedAt,
		Keys: make([]KeyResponse, 0, len(keys)), Releases: make([]ReleaseResponse, 0, len(rels))}
	for _, k := range keys {
		out.Keys = append(out.Keys, keyResponse(k, false))
	}
	for _, r := range rels {
		out.Releases = append(out.Releases, releaseResponse(r))
	}
	return out, nil
}

func keyResponse(k store.SigningKey, withArmor bool) KeyResponse {
	out := KeyResponse{Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt, UserIDs: []string{}}
	// Read as an update of itself: unlike ParsePublicKey, that also
	// describes a key that is revoked or expired by now.
	if pk, err := sign.ParseKeyUpdate([]byte(k.Armored), []byte(k.Armored)); err == nil {
		out.UserIDs, out.Revoked = pk.UserIDs, pk.Revoked
	}
	if withArmor {
		out.Armored = k.Armored
	}
	return out
}

func (s *Server) addKey(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	var req wire.KeyRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	keys, err := s.store.SigningKeys(c.Request().Context(), s.store.Pool, repo.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := sign.ParseKeyUpdate([]byte(k.Armored), []byte(req.Armored)); err == nil {
			return s.replaceKey(c, repo, k.Fingerprint, []byte(req.Armored))
		}
	}
	pk, err := sign.ParsePublicKey([]byte(req.Armored))
	if errors.Is(err, sign.ErrExpiredKey) {
		// Not a bad signature, which is what the sentinel maps to.
		return store.Errorf(wire.CodeInvalidKey, "%v", err)
	}
	if err != nil {
		return err
	}
	k, err := s.store.AddSigningKey(c.Request().Context(), repo.ID, pk.Fingerprint, string(pk.Armored))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, keyResponse(k, false))
}

// replaceKey stores a new copy of a registered key: adding the key again
// is how its revocation or new expiry reaches the server, and a revoked
// key's signatures are refused from then on. The update is merged into the
// copy stored at that moment, so it keeps every revocation.
func (s *Server) replaceKey(c echo.Context, repo store.Repository, fingerprint string, update []byte) error {
	var pk sign.PublicKey
	k, err := s.store.ReplaceSigningKey(c.Request().Context(), repo.ID, fingerprint, func(stored string) (string, error) {
		var err error
		pk, err = sign.ParseKeyUpdate([]byte(stored), update)
		return string(pk.Armored), err
	})
	if err != nil {
		return err
	}
	out := keyResponse(k, false)
	out.Revoked = pk.Revoked
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listKeys(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	keys, err := s.store.SigningKeys(c.Request().Context(), s.store.Pool, repo.ID)
	if err != nil {
		return err
	}
	out := make([]KeyResponse, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyResponse(k, false))
	}
	return c.JSON(http.StatusOK, wire.KeyList{Keys: out})
}

func (s *Server) getKey(c echo.Context) error {
	repo, err := s.repoFromPath(c)
	if err != nil {
		return err
	}
	keys, err := s.store.SigningKeys(c.Request().Context(), s.store.Pool, repo.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Fingerprint == c.Param("fingerprint") {
			return c.JSON(http.StatusOK, keyResponse(k, true))
		}
	}
	return store.Errorf(wire.CodeNotFound, "no key %s on repository %s", c.Param("fingerprint"), repo.Name)
}

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
