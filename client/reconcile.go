package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aptq/aptq/wire"
)

// Reconcile enqueues a reconcile of a release and returns its job id.
func (c *Client) Reconcile(ctx context.Context, repo, release string) (int64, error) {
	var ref wire.JobID
	err := c.doJSON(ctx, http.MethodPost, releasePath(repo, release)+"/reconcile", struct{}{}, &ref)
	return ref.JobID, err
}

// ReconcileReports lists a release's latest reconcile reports; with a job id
// and a wait, the server answers once that job's report exists (or wait ends).
func (c *Client) ReconcileReports(ctx context.Context, repo, release string, jobID int64, wait time.Duration) ([]ReconcileReport, error) {
	cl := call{method: http.MethodGet, path: releasePath(repo, release) + "/reconcile", timeout: c.requestTimeout}
	if jobID != 0 && wait > 0 {
		cl.query = url.Values{"job_id": {strconv.FormatInt(jobID, 10)}, "wait": {strconv.FormatInt(int64(wait/time.Second), 10) + "s"}}
		cl.timeout = wait + longPollMargin
	}
	var out wire.ReconcileReports
	err := c.do(ctx, cl, &out)
	return out.Reports, err
}

func releasePath(repo, release string) string {
	return "/v1/repos/" + url.PathEscape(repo) + "/releases/" + url.PathEscape(release)
}
