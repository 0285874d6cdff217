package client

import (
	"context"
	"net/http"
	"net/url"
)

// Copy copies packages into release (see CopyRequest).
func (c *Client) Copy(ctx context.Context, repo, release string, req CopyRequest) (Plan, error) {
	return c.plan(ctx, repo, release, "copy", req)
}

// RemoveMatching removes the packages the specs select.
func (c *Client) RemoveMatching(ctx context.Context, repo, release string, req RemovalRequest) (Plan, error) {
	return c.plan(ctx, repo, release, "removals", req)
}

// Prune removes old versions once (see PruneRequest).
func (c *Client) Prune(ctx context.Context, repo, release string, req PruneRequest) (Plan, error) {
	return c.plan(ctx, repo, release, "prune", req)
}

func (c *Client) plan(ctx context.Context, repo, release, op string, req any) (Plan, error) {
	var p Plan
	err := c.doJSON(ctx, http.MethodPost, repoPath(repo)+"/releases/"+url.PathEscape(release)+"/"+op, req, &p)
	return p, err
}
