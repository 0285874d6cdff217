package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// aptqBinary builds the CLI once per test run, to check what only the real
// process shows: exit statuses through os.Exit and streams that are pipes.
func aptqBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aptq-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "aptq")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestBinaryExitStatuses(t *testing.T) {
	t.Parallel()
	bin := aptqBinary(t)
	tests := []struct {
		name  string
		mode  string
		token string
		args  []string
		want  int
		state string
	}{
		{name: "published", mode: publishes, want: exitOK, state: "published"},
		{name: "failed", mode: fails, want: exitFailed, state: "failed"},
		{name: "usage", mode: publishes, args: []string{"--bogus"}, want: exitUsage},
		{name: "timeout", mode: neverEnds, args: []string{"--timeout", "1s"}, want: exitTimeout, state: "cancelled"},
		{name: "auth", mode: publishes, token: "revoked", want: exitAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			privPath, _, public := keyFiles(t)
			_, srv := newFakeAPI(t, tt.mode, public)
			cmd := exec.Command(bin, append([]string{"release", "resign", "--repo", "acme", "--release", "stable",
				"--key", privPath, "--json"}, tt.args...)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=xterm",
				"APTQ_URL=" + srv.URL, "APTQ_TOKEN=" + firstNonEmpty(tt.token, fakeToken), "APTQ_NO_VERIFY=1"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.want, code, stderr.String())

			// Pipes are no terminal: plain lines, nothing redrawn.
			require.NotContains(t, stderr.String(), "\r")
			require.NotContains(t, stderr.String(), "\x1b")

			// --json always prints one object, even for a usage error.
			var out struct {
				JobID      *int64 `json:"job_id"`
				Generation *int64 `json:"generation"`
				State      string `json:"state"`
				Error      *struct{ Code string }
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
			require.Equal(t, tt.state, out.State)
			if tt.want == exitOK {
				require.EqualValues(t, fakeJobID, *out.JobID)
				require.EqualValues(t, fakeGen, *out.Generation)
				require.Nil(t, out.Error)
				require.Contains(t, stderr.String(), "job 17: published generation 42\n")
			} else {
				require.NotNil(t, out.Error)
			}
		})
	}
}
