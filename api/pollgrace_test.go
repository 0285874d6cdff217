package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// A client frozen while its long poll waits keeps the connection open, so
// the poll itself is all the server knows of it: a follower's poll waits at
// most half the client grace and records the client present for that wait
// plus the grace, never for the 30 s wait it asked for (which left a frozen
// CLI's round held for 40 s with a 10 s grace).
func TestFollowerPollBoundedByGrace(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	b := setupWith(t, func(c *Config) { c.ClientGrace = grace })
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "frozen", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}}, &ref))
	var job JobResponse
	path := fmt.Sprintf("/v1/jobs/%d", ref["job_id"])
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path, nil, &job))

	// No worker runs: the state stays, and the poll ends at its capped wait.
	var polled JobResponse
	start := time.Now()
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path+"?wait=30s&state="+job.State, nil, &polled))
	require.Equal(t, job.State, polled.State)
	require.Less(t, time.Since(start), 15*time.Second, "the poll waits half the grace (1 s), not the 30 s asked")
	var beyond bool
	require.NoError(t, b.store.Pool.QueryRow(t.Context(),
		`SELECT client_seen_until > now() + $2 * interval '1 millisecond' FROM changes WHERE job_id = $1`,
		ref["job_id"], (grace+grace/2).Milliseconds()).Scan(&beyond))
	require.False(t, beyond, "the client is recorded present for at most 1.5 graces")
}
