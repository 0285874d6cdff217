package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/aptq/aptq/wire"
)

func repoPath(repo string) string {
	return "/v1/repos/" + url.PathEscape(repo)
}

// CreateRepo creates a repository.
func (c *Client) CreateRepo(ctx context.Context, name string) (Repo, error) {
	var r Repo
	err := c.doJSON(ctx, http.MethodPost, "/v1/repos", wire.RepoRequest{Name: name}, &r)
	return r, err
}

// ListRepos lists the tenant's repositories.
func (c *Client) ListRepos(ctx context.Context) ([]Repo, error) {
	var out wire.RepoList
	err := c.doJSON(ctx, http.MethodGet, "/v1/repos", nil, &out)
	return out.Repos, err
}

// GetRepo returns a repository with its keys and releases.
func (c *Client) GetRepo(ctx context.Context, name string) (Repo, error) {
	var r Repo
	err := c.doJSON(ctx, http.MethodGet, repoPath(name), nil, &r)
	return r, err
}

// AddKey registers an armored OpenPGP public key on a repository. The server
// refuses private keys (code private_key).
func (c *Client) AddKey(ctx context.Context, repo string, armored []byte) (Key, error) {
	var k Key
	err := c.doJSON(ctx, http.MethodPost, repoPath(repo)+"/keys", wire.KeyRequest{Armored: string(armored)}, &k)
	return k, err
}

// ListKeys lists the public keys registered on a repository.
func (c *Client) ListKeys(ctx context.Context, repo string) ([]Key, error) {
	var out wire.KeyList
	err := c.doJSON(ctx, http.MethodGet, repoPath(repo)+"/keys", nil, &out)
	return out.Keys, err
}

// GetKey returns one key, including its armored form (for apt's signed-by).
func (c *Client) GetKey(ctx context.Context, repo, fingerprint string) (Key, error) {
	var k Key
	err := c.doJSON(ctx, http.MethodGet, repoPath(repo)+"/keys/"+url.PathEscape(fingerprint), nil, &k)
	return k, err
}

// CreateRelease creates a release in a repository.
func (c *Client) CreateRelease(ctx context.Context, repo string, req ReleaseRequest) (Release, error) {
	var r Release
	err := c.doJSON(ctx, http.MethodPost, repoPath(repo)+"/releases", req, &r)
	return r, err
}

// ListReleases lists a repository's releases.
func (c *Client) ListReleases(ctx context.Context, repo string) ([]Release, error) {
	var out wire.ReleaseList
	err := c.doJSON(ctx, http.MethodGet, repoPath(repo)+"/releases", nil, &out)
	return out.Releases, err
}

// GetRelease returns one release.
func (c *Client) GetRelease(ctx context.Context, repo, release string) (Release, error) {
	var r Release
	err := c.doJSON(ctx, http.MethodGet, repoPath(repo)+"/releases/"+url.PathEscape(release), nil, &r)
	return r, err
}
