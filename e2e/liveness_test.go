package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

// TestFrozenClientDoesNotBlockRelease: a CLI frozen (SIGSTOP) after its
// round was cut, before signing, must not hold the release until the
// signature timeout (120 s by default). Another publish that arrives
// meanwhile completes within 20 s; the frozen client's change fails
// client_gone, visibly, and that CLI exits 1 once it runs again.
func TestFrozenClientDoesNotBlockRelease(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_CLIENT_GRACE=10s"}}) // the defaults: 10 s grace, 120 s signature timeout
	key := b.repoWithKey("live", "stable")
	frozenDeb := writeDeb(t, b.dir, debtest.Options{Package: "frozen", Version: "1.0", Architecture: "amd64"})
	liveDeb := writeDeb(t, b.dir, debtest.Options{Package: "lively", Version: "1.0", Architecture: "amd64"})

	// The frozen CLI talks through a proxy that stops it the moment its
	// round is handed to it, so it never signs: deterministic, no timing.
	target, err := url.Parse(b.URL)
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		frozen  *exec.Cmd
		stopped = make(chan struct{})
		once    sync.Once
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"state":"awaiting_signature"`)) {
			once.Do(func() {
				mu.Lock()
				defer mu.Unlock()
				require.NoError(t, frozen.Process.Signal(syscall.SIGSTOP))
				close(stopped)
			})
		}
		return nil
	}
	proxyAddr := startProxy(t, proxy)

	frozen = exec.Command(filepath.Join(binDir, "aptq"), "pkg", "add", "--json",
		"--repo", "live", "--release", "stable", "--key", key, frozenDeb)
	frozen.Env = append(cliEnviron(b), "APTQ_URL=http://"+proxyAddr)
	var frozenOut, frozenErr bytes.Buffer
	frozen.Stdout, frozen.Stderr = &frozenOut, &frozenErr
	mu.Lock()
	require.NoError(t, frozen.Start())
	mu.Unlock()
	t.Cleanup(func() { _ = frozen.Process.Kill() })
	select {
	case <-stopped:
	case <-time.After(60 * time.Second):
		t.Fatalf("the first CLI's round never awaited its signature; stderr: %s", frozenErr.String())
	}

	start := time.Now()
	out, errOut, code := b.cli(context.Background(), "pkg", "add", "--repo", "live", "--release", "stable", "--key", key, liveDeb)
	took := time.Since(start)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	t.Logf("publish behind a frozen client took %s", took)
	require.Less(t, took, 20*time.Second, "a frozen client held the release")

	require.NoError(t, frozen.Process.Signal(syscall.SIGCONT))
	err = frozen.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "stdout: %s\nstderr: %s", frozenOut.String(), frozenErr.String())
	require.Equal(t, 1, exitErr.ExitCode(), frozenErr.String())
	var res struct {
		JobID int64 `json:"job_id"`
	}
	require.NoError(t, jsonUnmarshal(frozenOut.String(), &res), frozenOut.String())
	job, err := client.New(b.URL, b.Token).GetJob(context.Background(), res.JobID, 0, "")
	require.NoError(t, err)
	require.Equal(t, client.JobFailed, job.State)
	require.Equal(t, "client_gone", job.Error.Code)

	pkgs := b.mustCLI("pkg", "list", "--repo", "live", "--release", "stable")
	require.Contains(t, pkgs, "lively")
	require.NotContains(t, pkgs, "frozen")

	// job retry signs and follows the new job like pkg add, so the retried
	// change publishes instead of failing client_gone in its turn.
	out = b.mustCLI("job", "retry", "--key", key, fmt.Sprint(res.JobID))
	require.Contains(t, out, "published generation")
	require.Contains(t, b.mustCLI("pkg", "list", "--repo", "live", "--release", "stable"), "frozen")
}

// startProxy serves h on a free loopback port for the test's lifetime.
func startProxy(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}
