package client

import (
	"context"
	"net/http"
)

// ReleaseUpdate changes a release; nil and empty fields are unchanged.
type ReleaseUpdate struct {
	Origin              *string  `json:"origin,omitempty"`
	Label               *string  `json:"label,omitempty"`
	Suite               *string  `json:"suite,omitempty"`
	Codename            *string  `json:"codename,omitempty"`
	Description         *string  `json:"description,omitempty"`
	AddComponents       []string `json:"add_components,omitempty"`
	RemoveComponents    []string `json:"remove_components,omitempty"`
	AddArchitectures    []string `json:"add_architectures,omitempty"`
	RemoveArchitectures []string `json:"remove_architectures,omitempty"`
	Compressions        []string `json:"compressions,omitempty"`
	// ValidFor is a duration (e.g. "7d") or "none" to drop Valid-Until.
	ValidFor             *string `json:"valid_for,omitempty"`
	NotAutomatic         *bool   `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades *bool   `json:"but_automatic_upgrades,omitempty"`
	// SignedBy is fingerprints, or "" to drop Signed-By.
	SignedBy *string `json:"signed_by,omitempty"`
	// KeepVersions is the retention (0 keeps all versions).
	KeepVersions *int `json:"keep_versions,omitempty"`
	// Contents turns the Contents-<arch>.gz indices on or off.
	Contents *bool `json:"contents,omitempty"`
}

// ReleaseUpdateResult says whether an update changes anything; if so, its
// change and job publish it like any other (follow and sign the job).
type ReleaseUpdateResult struct {
	Changed bool `json:"changed"`
	JobRef
}

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
	var out struct {
		JobID int64 `json:"job_id"`
	}
	err := c.doJSON(ctx, http.MethodDelete, releasePath(repo, release), nil, &out)
	return out.JobID, err
}

// DeleteRepo asks for a repository (its releases and pool) to be deleted
// and returns the job that deletes it; it is gone once GetRepo says
// not_found.
func (c *Client) DeleteRepo(ctx context.Context, repo string) (int64, error) {
	var out struct {
		JobID int64 `json:"job_id"`
	}
	err := c.doJSON(ctx, http.MethodDelete, repoPath(repo), nil, &out)
	return out.JobID, err
}
