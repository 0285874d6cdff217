package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process with env as its whole environment and an
// empty stdin.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCLIStdin(t, env, "", args...)
}

func runCLIStdin(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	// No server is needed: every case fails before a request would be sent.
	env := map[string]string{"APTQ_URL": "http://127.0.0.1:1", "APTQ_TOKEN": "tok"}
	tests := map[string][]string{
		"unknown command":     {"bogus"},
		"unknown subcommand":  {"repo", "crate", "acme"},
		"unknown flag":        {"repo", "list", "--bogus"},
		"missing argument":    {"repo", "create"},
		"extra argument":      {"repo", "show", "a", "b"},
		"missing repo":        {"pkg", "add", "--release", "stable", "x.deb"},
		"missing release":     {"release", "show", "--repo", "acme"},
		"missing files":       {"pkg", "add", "--repo", "acme", "--release", "stable"},
		"missing key":         {"pkg", "add", "--repo", "acme", "--release", "stable", "x.deb"},
		"missing name":        {"key", "generate", "--out", "x.asc"},
		"negative timeout":    {"--timeout", "-1s", "repo", "list"},
		"bad duration":        {"--timeout", "soon", "repo", "list"},
		"job id not a number": {"job", "show", "seventeen"},
		"key remove no fpr":   {"key", "remove", "--repo", "acme"},
		"key and gpg":         {"release", "resign", "--repo", "acme", "--release", "stable", "--key", "k.asc", "--gpg", "ABCD"},
		"no shell":            {"completion"},
		"negative limit":      {"release", "history", "--repo", "acme", "--release", "stable", "--limit", "-1"},
		"bad valid-for":       {"release", "create", "--repo", "acme", "--release", "stable", "--valid-for", "soon"},
		"pkg show no name":    {"pkg", "show", "--repo", "acme", "--release", "stable"},
		"token without scope": {"token", "create", "ci"},
		"token bad scope":     {"token", "create", "ci", "--scope", "root"},
		"admin token on repo": {"token", "create", "ci", "--scope", "admin", "--repo", "acme"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, env, args...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, "aptq: usage: ")
			require.Contains(t, res.stderr, "--help' for usage")
		})
	}
}

func TestHelpDocumentsExitStatus(t *testing.T) {
	t.Parallel()
	res := runCLI(t, nil, "--help")
	require.Equal(t, exitOK, res.code)
	for _, want := range []string{"Exit status", "3  timeout", "4  authentication", "APTQ_SIGNING_KEY"} {
		require.Contains(t, res.stdout, want)
	}
}

func TestUnreachableServerTimesOut(t *testing.T) {
	t.Parallel()
	res := runCLI(t, map[string]string{"APTQ_URL": "http://127.0.0.1:1"}, "--timeout", "300ms", "repo", "list")
	require.Equal(t, exitTimeout, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: timeout: gave up after 300ms")
	require.Contains(t, res.stderr, "connection refused")
}

// TestUnreachableServerFailsFast: with nothing listening, a command that
// does not publish (list, show, job show) fails within a few seconds with
// the address tried and exit 1, instead of retrying until its --timeout (a
// minute here).
func TestUnreachableServerFailsFast(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	for _, args := range [][]string{{"repo", "list"}, {"release", "show", "--repo", "r", "--release", "stable"},
		{"job", "show", "7"}} {
		t.Run(args[0]+" "+args[1], func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res := runCLI(t, map[string]string{"APTQ_URL": addr, "APTQ_TOKEN": "tok"}, args...)
			require.Equal(t, exitFailed, res.code, res.stderr)
			require.Less(t, time.Since(start), 10*time.Second)
			require.Contains(t, res.stderr, "aptq: unreachable: cannot reach the aptq server at "+addr)
		})
	}
}

// TestUnreachableServerPublishWaits: a publishing command keeps retrying an
// unreachable server past the read-only window (a restart is waited out),
// until its client.DefaultUnreachableAfter or its --timeout.
func TestUnreachableServerPublishWaits(t *testing.T) {
	t.Parallel()
	private, _ := newKeyPair(t)
	env := map[string]string{"APTQ_URL": closedAddr(t), "APTQ_TOKEN": "tok", "APTQ_SIGNING_KEY": string(private)}
	res := runCLI(t, env, "--timeout", (2 * quickUnreachable).String(), "job", "retry", "7")
	require.Equal(t, exitTimeout, res.code, res.stderr)
	require.Contains(t, res.stderr, "connection refused")
}

// closedAddr is the URL of a loopback port nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestNotAnAptqServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // a plain web server
	}))
	t.Cleanup(srv.Close)
	res := runCLI(t, map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": "tok"}, "repo", "list")
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: not_aptq_server: "+srv.URL+" does not answer as an aptq API")
}

func TestTokenWhitespace(t *testing.T) {
	t.Parallel()
	_, srv := newFakeAPI(t, "")
	res := runCLI(t, map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": fakeToken + "\r\n"}, "repo", "list")
	require.Equal(t, exitOK, res.code, "a trailing newline is trimmed: %s", res.stderr)
	res = runCLI(t, map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": "to ken"}, "repo", "list")
	require.Equal(t, exitAuth, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: malformed_token: malformed API token")
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash":       "__start_aptq",
		"zsh":        "#compdef aptq",
		"fish":       "complete -c aptq",
		"powershell": "Register-ArgumentCompleter",
	} {
		res := runCLI(t, nil, "completion", shell)
		require.Equal(t, exitOK, res.code, res.stderr)
		require.Contains(t, res.stdout, want, shell)
	}
	res := runCLI(t, nil, "completion", "tcsh")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, `invalid argument "tcsh"`)

	// The scripts call the hidden __complete command.
	res = runCLI(t, nil, "__complete", "release", "re")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "resign\t")
	require.Contains(t, res.stdout, "reconcile\t")
}
