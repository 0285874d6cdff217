package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

type timelineJob struct {
	JobID    int64  `json:"job_id"`
	State    string `json:"state"`
	Timeline []struct {
		Kind   string         `json:"kind"`
		Detail map[string]any `json:"detail"`
	} `json:"timeline"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func kinds(j timelineJob) []string {
	var out []string
	for _, e := range j.Timeline {
		out = append(out, e.Kind)
	}
	return out
}

// TestJobTimelines: operators see the whole story of a published job and of
// a failed one (a CLI that never signed), and can list jobs by state.
func TestJobTimelines(t *testing.T) {
	t.Parallel()
	// The deadline leaves the signing CLI time to check the round first.
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_SIGNATURE_TIMEOUT=5s"}})
	key := b.repoWithKey("ops", "stable")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	deb := writeDeb(t, b.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64"})
	out := b.mustCLI("pkg", "add", "--json", "--repo", "ops", "--release", "stable", "--key", key, deb)
	var published timelineJob
	require.NoError(t, jsonUnmarshal(out, &published))

	// A change nobody signs fails at the signature deadline.
	c := client.New(b.URL, b.Token)
	unsigned := debtest.Build(t, debtest.Options{Package: "unsigned", Version: "1.0", Architecture: "amd64"})
	sum := sha256.Sum256(unsigned)
	_, err := c.UploadPackage(ctx, hex.EncodeToString(sum[:]), bytes.NewReader(unsigned), int64(len(unsigned)))
	require.NoError(t, err)
	ref, err := c.SubmitChange(ctx, "ops", "stable", client.ChangeRequest{Adds: []client.Add{{SHA256: hex.EncodeToString(sum[:]), Component: "main"}}})
	require.NoError(t, err)
	failedJob := waitForEnd(ctx, t, c, ref.JobID)
	require.Equal(t, client.JobFailed, failedJob.State)

	var good, bad timelineJob
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, fmt.Sprintf("/v1/jobs/%d", published.JobID), nil, &good))
	require.Equal(t, []string{"enqueued", "round_cut", "signature_accepted", "committed", "uploaded", "uploaded", "uploaded", "published"}, kinds(good))
	require.Equal(t, float64(1), good.Timeline[1].Detail["generation"])
	require.NotEmpty(t, good.Timeline[1].Detail["worker"])
	require.Contains(t, good.Timeline[1].Detail["by_hash_uploaded"], "main/binary-amd64/Packages.gz")
	require.Len(t, good.Timeline[3].Detail["verified_by"], 1, "the committed step names the verified signer")
	require.Equal(t, "pool", good.Timeline[4].Detail["step"])
	require.Equal(t, []any{"pool/main/g/good/good_1.0_amd64.deb"}, good.Timeline[4].Detail["files"])
	require.Equal(t, "flat_indexes", good.Timeline[5].Detail["step"])
	require.Equal(t, "release", good.Timeline[6].Detail["step"])

	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, fmt.Sprintf("/v1/jobs/%d", ref.JobID), nil, &bad))
	require.Equal(t, []string{"enqueued", "round_cut", "failed"}, kinds(bad))
	require.Equal(t, "signature_timeout", bad.Timeline[2].Detail["code"])
	require.Equal(t, "signature_timeout", bad.Error.Code)

	var list struct {
		Jobs []timelineJob `json:"jobs"`
	}
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/jobs?state=failed&repo=ops", nil, &list))
	require.Len(t, list.Jobs, 1)
	require.Equal(t, ref.JobID, list.Jobs[0].JobID)
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/jobs?release=stable", nil, &list))
	require.Len(t, list.Jobs, 2)
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, fmt.Sprintf("/v1/jobs?cursor=%d", ref.JobID), nil, &list))
	require.Len(t, list.Jobs, 1, "the page after the newest job holds the older one")

	// The same through the CLI: the list, and each timeline.
	out = b.mustCLI("job", "show", fmt.Sprint(ref.JobID))
	for _, want := range []string{"enqueued", "round_cut", "failed", "signature_timeout"} {
		require.Contains(t, out, want)
	}
	out = b.mustCLI("job", "show", fmt.Sprint(published.JobID))
	for _, want := range []string{"enqueued", "round_cut", "signature_accepted", "committed", "published"} {
		require.Contains(t, out, want)
	}
	out = b.mustCLI("--json", "jobs", "list", "--state", "failed")
	var page struct {
		Jobs []timelineJob `json:"jobs"`
	}
	require.NoError(t, jsonUnmarshal(out, &page))
	require.Len(t, page.Jobs, 1)

	// An operator retries the failed change as a new job; signed this time, it publishes.
	var retried client.JobRef
	require.Equal(t, http.StatusAccepted, b.api(t, http.MethodPost, fmt.Sprintf("/v1/jobs/%d/retry", ref.JobID), nil, &retried))
	require.NotEqual(t, ref.JobID, retried.JobID)
	armored, err := os.ReadFile(key)
	require.NoError(t, err)
	signer, err := sign.ParsePrivateKey(armored, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), follow(ctx, t, c, retried.JobID, signer).Generation)
	require.Equal(t, http.StatusConflict, b.api(t, http.MethodPost, fmt.Sprintf("/v1/jobs/%d/retry", published.JobID), nil, nil))
	var rounds struct {
		Rounds []struct {
			Generation int64  `json:"generation"`
			State      string `json:"state"`
			ErrorCode  string `json:"error_code"`
		} `json:"rounds"`
	}
	require.Equal(t, http.StatusOK, b.api(t, http.MethodGet, "/v1/repos/ops/releases/stable/rounds", nil, &rounds))
	require.Len(t, rounds.Rounds, 3)
	require.Equal(t, "published", rounds.Rounds[0].State)
	require.Equal(t, "signature_timeout", rounds.Rounds[1].ErrorCode)
	require.Contains(t, b.mustCLI("round", "list", "--repo", "ops", "--release", "stable"), "signature_timeout")

	// The metrics saw every round.
	body, status, err := get(ctx, b.URL+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	for _, series := range []string{
		`aptq_rounds{error="",state="published"} 2`,
		`aptq_rounds{error="signature_timeout",state="failed"} 1`,
		`aptq_round_duration_seconds_count 2`,
		`aptq_signature_wait_seconds_count 2`,
		`aptq_upload_seconds_count{phase="by_hash"} 3`,
		`aptq_upload_seconds_count{phase="publish"} 2`,
		`aptq_http_requests_total{method="POST",route="/v1/repos/:repo/releases/:release/changes",status="202"} 2`,
		`aptq_http_requests_total{method="POST",route="/v1/jobs/:id/retry",status="202"} 1`,
		`aptq_jobs{kind="publish",state=`,
		`aptq_lease_takeovers_total 0`,
		`aptq_reconcile_repairs_total 0`,
	} {
		require.Contains(t, string(body), series)
	}
}

// waitForEnd long-polls a job until it is published, failed or cancelled.
func waitForEnd(ctx context.Context, t *testing.T, c *client.Client, jobID int64) client.Job {
	t.Helper()
	last := ""
	for {
		job, err := c.GetJob(ctx, jobID, 30*time.Second, last)
		require.NoError(t, err)
		if job.Done() {
			return job
		}
		last = job.State
	}
}
