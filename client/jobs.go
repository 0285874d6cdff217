package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SubmitChange asks for packages to be added to or removed from a release.
// A nil error means the change is durable; follow it with GetJob.
//
// Like every call, it is retried after a transient failure. If the server
// committed the change but its answer was lost, the retry enqueues the same
// change again; both publish the same content.
func (c *Client) SubmitChange(ctx context.Context, repo, release string, req ChangeRequest) (JobRef, error) {
	var ref JobRef
	path := repoPath(repo) + "/releases/" + url.PathEscape(release) + "/changes"
	err := c.doJSON(ctx, http.MethodPost, path, req, &ref)
	return ref, err
}

// GetJob returns a job. With lastState empty it answers at once. Otherwise it
// long-polls: the server answers as soon as the job's state differs from
// lastState (or a round awaiting a signature appears), or after wait
// (at most 60 s server-side) with the same state.
func (c *Client) GetJob(ctx context.Context, id int64, wait time.Duration, lastState string) (Job, error) {
	cl := call{method: http.MethodGet, path: "/v1/jobs/" + strconv.FormatInt(id, 10), timeout: c.requestTimeout}
	if lastState != "" && wait > 0 {
		// Whole seconds, as docs/api.md writes them ("30s").
		secs := int64((wait + time.Second - 1) / time.Second)
		cl.query = url.Values{"wait": {fmt.Sprintf("%ds", secs)}, "state": {lastState}}
		cl.timeout = time.Duration(secs)*time.Second + longPollMargin
	}
	var j Job
	err := c.do(ctx, cl, &j)
	return j, err
}

// SubmitSignature posts the signatures of a round's Release. Expect *APIError
// codes already_signed and stale_generation when another client signed first
// or a newer round exists, round_failed when the round is over, and
// bad_signature, unknown_key or content_mismatch when the signature is refused.
func (c *Client) SubmitSignature(ctx context.Context, roundID int64, req SignatureRequest) (SignatureResult, error) {
	var res SignatureResult
	path := "/v1/rounds/" + strconv.FormatInt(roundID, 10) + "/signature"
	err := c.doJSON(ctx, http.MethodPost, path, req, &res)
	return res, err
}

// CancelJob cancels a job whose change is not committed yet. A committed
// change cannot be cancelled: expect an *APIError with code "conflict".
func (c *Client) CancelJob(ctx context.Context, id int64) (Job, error) {
	return c.CancelJobBecause(ctx, id, JobError{})
}

// CancelJobBecause cancels a job because of a failure (e.g. a refused
// signature), which the job then shows as its error; a zero reason is a
// plain cancel.
func (c *Client) CancelJobBecause(ctx context.Context, id int64, reason JobError) (Job, error) {
	var j Job
	cl := call{method: http.MethodDelete, path: "/v1/jobs/" + strconv.FormatInt(id, 10), timeout: c.requestTimeout}
	if reason.Code != "" {
		cl.query = url.Values{"reason_code": {reason.Code}, "reason": {reason.Message}}
	}
	err := c.do(ctx, cl, &j)
	return j, err
}
