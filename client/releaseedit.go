package client

import (
	"context"
	"net/http"

	"github.com/aptq/aptq/wire"
)

// UpdateRelease submits a release update. Removing a component or an
// architecture that holds packages is refused with an *APIError of code
// conflict naming them.
func (c *Client) UpdateRelease(ctx context.Context, repo, release string, u ReleaseUpdate) (ReleaseUpdateResult, error) {
	var out ReleaseUpdateResult
	err := c.doJSON(ctx, http.MethodPatch, releasePath(repo, release), u, &out)
	return out, err
}

// DeleteRelease asks for a release to be deleted and returns the job that
// deletes it; the release is gone once GetRelease says not_found. Refused
// (conflict) while the release has unpublished changes.
func (c *Client) DeleteRelease(ctx context.Context, repo, release string) (int64, error) {
	var out wire.JobID
	err := c.doJSON(ctx, http.MethodDelete, releasePath(repo, release), nil, &out)
	return out.JobID, err
}

// DeleteRepo asks for a repository (its releases and pool) to be deleted
// and returns the job that deletes it; it is gone once GetRepo says
// not_found.
func (c *Client) DeleteRepo(ctx context.Context, repo string) (int64, error) {
	var out wire.JobID
	err := c.doJSON(ctx, http.MethodDelete, repoPath(repo), nil, &out)
	return out.JobID, err
}
