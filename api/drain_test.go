package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// TestServeDrainsLongPolls: when Serve's context ends (SIGTERM), a long
// poll waiting on a job is answered at once with the job as it is, which a
// client takes as "poll again", instead of holding the shutdown for its
// whole wait or being cut off; then Serve returns nil and the address
// refuses new connections.
func TestServeDrainsLongPolls(t *testing.T) {
	t.Parallel()
	// A grace long enough that the poll's wait is not cut to half of it.
	b := setupWith(t, func(c *Config) { c.ClientGrace = 2 * time.Minute })
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "drain", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	var ref map[string]int64
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes",
		map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}}, &ref))
	job := ref["job_id"]
	var before JobResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, fmt.Sprintf("/v1/jobs/%d", job), nil, &before))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- b.api.Serve(ctx, addr) }()

	type answer struct {
		status int
		state  string
		err    error
		at     time.Time
	}
	answers := make(chan answer, 1)
	go func() {
		var a answer
		for { // until the server listens
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v1/jobs/%d?wait=50s&state=%s", addr, job, before.State), nil)
			req.Header.Set("Authorization", "Bearer "+b.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // waiting for the listener
				continue
			}
			var out JobResponse
			a.err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			a.status, a.state, a.at = resp.StatusCode, out.State, time.Now()
			answers <- a
			return
		}
	}()

	// The poll is waiting once it has recorded its client for its wait
	// and the grace (50 s + 2 min), beyond what the submission recorded
	// (the grace alone).
	waiting := false
	for deadline := time.Now().Add(20 * time.Second); !waiting && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		require.NoError(t, b.store.Pool.QueryRow(context.Background(),
			`SELECT coalesce(client_seen_until > now() + interval '150 seconds', false) FROM changes WHERE job_id = $1`, job).Scan(&waiting))
	}
	require.True(t, waiting, "the long poll is waiting")
	stopped := time.Now()
	stop()

	select {
	case a := <-answers:
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, before.State, a.state, "the job as it is: the client polls again")
		require.Less(t, a.at.Sub(stopped), 5*time.Second, "answered at the shutdown, not after its 50 s wait")
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll was not answered at the shutdown")
	}
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "no new connections after the shutdown")
}
