package client

import (
	"context"
	"github.com/aptq/aptq/wire"
	"net/http"
	"net/url"
	"strconv"
)

// RemoveKey unregisters a public key from a repository. The server keeps at
// least one key on every repository: removing the last one is refused with
// an *APIError of code last_key (HTTP 409).
func (c *Client) RemoveKey(ctx context.Context, repo, fingerprint string) error {
	return c.doJSON(ctx, http.MethodDelete, repoPath(repo)+"/keys/"+url.PathEscape(fingerprint), nil, nil)
}

// Resign asks for a round with no package change: it publishes a new
// generation with the same indexes, a new Date (and Valid-Until) and fresh
// signatures, for expiry refresh and key rotation. Follow the job as for
// SubmitChange.
//
// Like SubmitChange it is retried after a transient failure, so a lost answer
// may enqueue a second resign; that costs one more generation, nothing else.
func (c *Client) Resign(ctx context.Context, repo, release string) (JobRef, error) {
	var ref JobRef
	err := c.doJSON(ctx, http.MethodPost, releasePath(repo, release)+"/resign", struct{}{}, &ref)
	return ref, err
}

// Rollback asks for the membership of a committed generation of the release
// to be published again, as a new generation. A generation the release never
// committed is refused with an *APIError of code invalid (details field
// "generation"). A retried request rolls back to the same membership twice,
// which publishes the same content.
func (c *Client) Rollback(ctx context.Context, repo, release string, generation int64) (JobRef, error) {
	var ref JobRef
	err := c.doJSON(ctx, http.MethodPost, releasePath(repo, release)+"/rollback", wire.RollbackRequest{Generation: generation}, &ref)
	return ref, err
}

// History lists a release's committed generations, newest first; limit 0
// leaves the number to the server (50).
func (c *Client) History(ctx context.Context, repo, release string, limit int) ([]Generation, error) {
	cl := call{method: http.MethodGet, path: releasePath(repo, release) + "/history", timeout: c.requestTimeout}
	if limit > 0 {
		cl.query = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	var out wire.History
	err := c.do(ctx, cl, &out)
	return out.Generations, err
}

// PackageFilter narrows ListReleasePackages; empty fields match everything.
type PackageFilter struct {
	Component    string
	Name         string
	Architecture string
}

// ListReleasePackages lists the membership of the release's last committed
// generation, sorted by name, version and architecture.
func (c *Client) ListReleasePackages(ctx context.Context, repo, release string, f PackageFilter) ([]ReleasePackage, error) {
	cl := call{method: http.MethodGet, path: releasePath(repo, release) + "/packages", timeout: c.requestTimeout}
	q := url.Values{}
	for k, v := range map[string]string{"component": f.Component, "name": f.Name, "architecture": f.Architecture} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) > 0 {
		cl.query = q
	}
	var out wire.ReleasePackageList
	err := c.do(ctx, cl, &out)
	return out.Packages, err
}
