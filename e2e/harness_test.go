// Package e2e drives the real binaries as a user would: aptqd against the
// real Postgres and S3 of `make services`, the aptq CLI, and apt-get.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/observe"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store/storetest"
)

// binDir holds aptqd (built with the race detector) and aptq, built once
// for the package.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(systest.Main(m, true, &binDir))
}

// bundle is one running aptq system with a tenant of its own.
type bundle struct {
	t      *testing.T
	dbURL  string
	URL    string
	Token  string
	Tenant string
	dir    string
	logs   *lockedWriter
	pid    int
}

type serverOpts struct {
	extraEnv []string
	aptqd    string // another aptqd binary than the shared race-enabled one
	role     string // "all" (default) or "api": no workers, jobs stay queued
}

// setup starts `aptqd all` on a fresh database and a free port, and creates
// a tenant with a random name (so S3 prefixes never collide across tests).
func setup(t *testing.T, opts ...serverOpts) *bundle {
	t.Helper()
	b := &bundle{t: t, dbURL: storetest.NewDB(t), dir: t.TempDir(), logs: &lockedWriter{w: &bytes.Buffer{}}}
	var o serverOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	addr := systest.FreeAddr(t)
	b.URL = "http://" + addr
	aptqd := filepath.Join(binDir, "aptqd")
	if o.aptqd != "" {
		aptqd = o.aptqd
	}
	role := "all"
	if o.role != "" {
		role = o.role
	}
	if role == "api" { // the API does not migrate; the database comes migrated
		out, err := exec.Command(aptqd, "migrate", "--database-url", b.dbURL).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	cmd := exec.Command(aptqd, role, "--listen", addr, "--database-url", b.dbURL)
	// A generous client grace: many race-built CLIs on two cores can leave a
	// live client's polls failing for longer than the 10 s default (see the
	// liveness test, which sets the default back).
	// A short drain: the clean-up stops aptqd with SIGINT and kills it after 20 s.
	cmd.Env = append(append(os.Environ(), "APTQ_CLIENT_GRACE=30s", "APTQ_SHUTDOWN_TIMEOUT=5s"), o.extraEnv...)
	cmd.Stdout = b.logs
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	b.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("aptqd log:\n%s", systest.Tail(b.logs.String(), 8000))
		}
	})
	b.waitReady()

	b.Tenant = "t-" + systest.RandomHex(6)
	out, err := exec.Command(filepath.Join(binDir, "aptqd"), "admin", "create-tenant", b.Tenant,
		"--database-url", b.dbURL).CombinedOutput()
	require.NoError(t, err, string(out))
	b.Token = strings.TrimSpace(string(out))
	return b
}

// tenantID reads the tenant's id from the database.
func (b *bundle) tenantID(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var id int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT id FROM tenants WHERE name = $1`, b.Tenant).Scan(&id))
	return id
}

// waitReady waits for the server to start.
func (b *bundle) waitReady() {
	if err := systest.WaitReady(b.URL, 60*time.Second); err != nil {
		b.t.Fatalf("aptqd: %v:\n%s", err, b.logs.String())
	}
}

// cli runs the aptq CLI and returns its stdout, stderr and exit code.
func (b *bundle) cli(ctx context.Context, args ...string) (string, string, int) {
	return b.cliEnv(ctx, nil, args...)
}

// cliEnv runs the CLI with extra environment variables (last wins).
func (b *bundle) cliEnv(ctx context.Context, env []string, args ...string) (string, string, int) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "aptq"), args...)
	cmd.Env = append(cliEnviron(b), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return stdout.String(), stderr.String(), code
}

// cliEnviron is the CLI's environment: HOME is the test's own, so no
// developer's profile is read, and the server and token are the bundle's.
func cliEnviron(b *bundle) []string {
	return append(os.Environ(), "HOME="+b.dir, "APTQ_URL="+b.URL, "APTQ_TOKEN="+b.Token)
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func (b *bundle) mustCLI(args ...string) string {
	b.t.Helper()
	out, errOut, code := b.cli(context.Background(), args...)
	require.Equal(b.t, 0, code, "aptq %v\nstdout: %s\nstderr: %s", args, out, errOut)
	return out
}

// repoWithKey creates a repository with a fresh signing key and a release.
func (b *bundle) repoWithKey(repo string, releases ...string) (keyFile string) {
	b.t.Helper()
	keyFile = filepath.Join(b.dir, repo+".asc")
	b.mustCLI("key", "generate", "--name", "e2e "+repo, "--email", "e2e@example.com", "--out", keyFile)
	b.mustCLI("repo", "create", repo)
	b.mustCLI("key", "add", "--repo", repo, pubKeyFile(keyFile))
	for _, r := range releases {
		b.mustCLI("release", "create", "--repo", repo, "--release", r, "--architectures", "amd64,arm64")
	}
	return keyFile
}

func pubKeyFile(keyFile string) string {
	return strings.TrimSuffix(keyFile, ".asc") + ".pub.asc"
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was written so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// get reads url whole and returns the body and status.
func get(ctx context.Context, url string) ([]byte, int, error) {
	return observe.Get(ctx, http.DefaultClient, url)
}

// getPackages reads the Packages index at url (".../Packages") as apt does:
// S3 holds only its compressed variants, so the .gz, decompressed.
func getPackages(ctx context.Context, url string) ([]byte, int, error) {
	body, status, err := get(ctx, url+".gz")
	if err != nil || status != http.StatusOK {
		return body, status, err
	}
	r, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, status, err
	}
	body, err = io.ReadAll(r)
	return body, status, err
}
