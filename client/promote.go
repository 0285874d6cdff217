package client

import (
	"context"
	"net/http"
	"net/url"
)

// PlanItem is one package a copy, removal or prune adds (Op "+") or
// removes ("-").
type PlanItem struct {
	Op           string `json:"op"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

// Plan is what a copy, removal or prune changes. JobID is nil when nothing
// was submitted: a dry run, or nothing to change.
type Plan struct {
	DryRun    bool       `json:"dry_run"`
	JobID     *int64     `json:"job_id"`
	ChangeID  *int64     `json:"change_id"`
	Items     []PlanItem `json:"plan"`
	Unchanged int        `json:"unchanged"`
}

// Ref is the submitted change, if any.
func (p Plan) Ref() (JobRef, bool) {
	if p.JobID == nil || p.ChangeID == nil {
		return JobRef{}, false
	}
	return JobRef{JobID: *p.JobID, ChangeID: *p.ChangeID}, true
}

// CopyRequest copies packages of release FromRelease (FromComponent: all
// components when empty) into another release of the same repository, into
// Component (each package's own when empty). Specs are NAME, NAME=VERSION
// or NAME=VERSION:ARCH; All copies everything instead.
type CopyRequest struct {
	FromRelease   string   `json:"from_release"`
	FromComponent string   `json:"from_component,omitempty"`
	Component     string   `json:"component,omitempty"`
	Specs         []string `json:"specs,omitempty"`
	All           bool     `json:"all,omitempty"`
	IgnoreMissing bool     `json:"ignore_missing,omitempty"`
	DryRun        bool     `json:"dry_run,omitempty"`
}

// RemovalRequest removes what Specs select from Component.
type RemovalRequest struct {
	Component     string   `json:"component"`
	Specs         []string `json:"specs"`
	IgnoreMissing bool     `json:"ignore_missing,omitempty"`
	DryRun        bool     `json:"dry_run,omitempty"`
}

// PruneRequest removes all but the Keep newest versions of each package
// name and architecture (in Component, or all components when empty).
type PruneRequest struct {
	Keep      int    `json:"keep"`
	Component string `json:"component,omitempty"`
	DryRun    bool   `json:"dry_run,omitempty"`
}

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
