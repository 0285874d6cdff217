package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

// TestCLITimeoutCancels: with no worker running the job never moves; the
// CLI gives up at --timeout with exit 3 naming the job, and cancels it so
// that the change is not published later.
func TestCLITimeoutCancels(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{role: "api"})
	key := b.repoWithKey("slow", "stable")
	deb := writeDeb(t, b.dir, debtest.Options{Package: "late", Version: "1.0", Architecture: "amd64"})

	out, errOut, code := b.cli(context.Background(), "pkg", "add", "--json", "--timeout", "2s",
		"--repo", "slow", "--release", "stable", "--key", key, deb)
	require.Equal(t, 3, code, "stdout: %s\nstderr: %s", out, errOut)
	var res struct {
		JobID int64  `json:"job_id"`
		State string `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.NotZero(t, res.JobID)
	require.Contains(t, errOut, "timeout")

	job, err := client.New(b.URL, b.Token).GetJob(context.Background(), res.JobID, 0, "")
	require.NoError(t, err)
	require.Equal(t, client.JobCancelled, job.State)
	require.Equal(t, "cancelled", job.Error.Code)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
