package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/faults3"
	"github.com/aptq/aptq/internal/systest"
)

// cluster is one running aptq system: its own Postgres, one API and several
// workers, S3 through a fault proxy, and a tenant of its own.
type cluster struct {
	t       *testing.T
	dir     string
	pg      *postgres
	proxy   *faults3.Proxy
	s3      blob.Config // the real S3 server, for clean-up
	URL     string      // the first API, which the CLIs use unless told otherwise
	api     *proc       // the first API
	apis    []*proc
	apiURLs []string
	workers []*proc
	env     []string
	events  *eventLog
	Tenant  string
	Token   string
}

// clusterOpts are the server settings a run uses.
type clusterOpts struct {
	workers          int
	leaseTTL         time.Duration
	signatureTimeout time.Duration
	roundBudget      time.Duration
	partitions       int
	seed             int64
	apis             int      // API processes; 0 means 1
	env              []string // more APTQ_* settings of every aptqd
	pgMaxConns       int      // the test Postgres's max_connections; 0 means 300
}

func newCluster(t *testing.T, o clusterOpts, events *eventLog) *cluster {
	t.Helper()
	// The processes' logs stay after a failed run, for diagnosis.
	dir, err := os.MkdirTemp("", "aptq-chaos-logs-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("aptqd logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	c := &cluster{t: t, dir: dir, events: events}
	c.pg = startPostgres(t, o.pgMaxConns)
	c.s3 = blobtest.Config(t)
	c.proxy, err = faults3.New(c.s3.Endpoint, faults3.Config{Seed: o.seed})
	require.NoError(t, err)
	proxyURL, err := c.proxy.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.proxy.Close() })

	// The environment of every aptqd: nothing from the caller's APTQ_*
	// (which point at the shared services) but what is set here.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "APTQ_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"APTQ_DATABASE_URL="+c.pg.URL,
		"APTQ_S3_ENDPOINT="+proxyURL,
		"APTQ_S3_BUCKET="+c.s3.Bucket,
		"APTQ_S3_ACCESS_KEY="+c.s3.AccessKey,
		"APTQ_S3_SECRET_KEY="+c.s3.SecretKey,
		"APTQ_S3_REGION="+c.s3.Region,
		fmt.Sprintf("APTQ_PARTITIONS=%d", o.partitions),
		"APTQ_LEASE_TTL="+o.leaseTTL.String(),
		"APTQ_SIGNATURE_TIMEOUT="+o.signatureTimeout.String(),
		"APTQ_ROUND_BUDGET="+o.roundBudget.String(),
		"APTQ_LOG_LEVEL=info",
		// Within the 20 s the clean-up gives a process after SIGINT.
		"APTQ_SHUTDOWN_TIMEOUT=10s",
	)
	c.env = append(c.env, o.env...)
	aptqd := filepath.Join(binDir, "aptqd")
	out, err := c.aptqd("migrate")
	require.NoError(t, err, out)

	for i := range max(o.apis, 1) {
		addr := systest.FreeAddr(t)
		name := "api"
		if i > 0 {
			name = fmt.Sprintf("api-%d", i+1)
		}
		api := &proc{name: name, args: []string{aptqd, "api", "--listen", addr}, env: c.env,
			logPath: filepath.Join(c.dir, name+".log"), events: events}
		require.NoError(t, api.start())
		c.apis = append(c.apis, api)
		c.apiURLs = append(c.apiURLs, "http://"+addr)
	}
	c.api, c.URL = c.apis[0], c.apiURLs[0]
	for i := range o.workers {
		name := fmt.Sprintf("worker-%d", i+1)
		c.workers = append(c.workers, &proc{name: name, args: []string{aptqd, "worker"}, env: c.env,
			logPath: filepath.Join(c.dir, name+".log"), events: events})
		require.NoError(t, c.workers[i].start())
	}
	t.Cleanup(c.stopAll)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.procs() {
				t.Logf("%s log (%s), end:\n%s", p.name, p.logPath, p.logTail(6000))
			}
			t.Logf("postgres log, end:\n%s", c.pg.logTail(3000))
		}
	})
	for _, u := range c.apiURLs {
		c.waitReady(u, 60*time.Second)
	}

	c.Tenant = "chaos-" + systest.RandomHex(5)
	out, err = c.aptqd("admin", "create-tenant", c.Tenant)
	require.NoError(t, err, out)
	c.Token = strings.TrimSpace(out)
	return c
}

func (c *cluster) procs() []*proc { return append(append([]*proc{}, c.apis...), c.workers...) }

func (c *cluster) stopAll() {
	for _, p := range c.procs() {
		p.stop(20 * time.Second)
	}
}

// aptqd runs a one-shot aptqd command against the cluster's database.
func (c *cluster) aptqd(args ...string) (string, error) {
	return c.aptqdEnv(c.env, args...)
}

// aptqdEnv runs aptqd with env until it exits, for at most a minute.
func (c *cluster) aptqdEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "aptqd"), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// waitReady waits for the API at url to start.
func (c *cluster) waitReady(url string, timeout time.Duration) {
	c.t.Helper()
	if err := systest.WaitReady(url, timeout); err != nil {
		c.t.Fatalf("the API: %v:\n%s", err, c.api.logTail(4000))
	}
}

// cliResult is one run of the aptq CLI.
type cliResult struct {
	stdout, stderr string
	exit           int           // -1: did not run or was killed
	cpu            time.Duration // user + system time of the process
}

// cli runs the aptq CLI as the tenant, against the first API.
func (c *cluster) cli(ctx context.Context, args ...string) cliResult {
	return c.cliAt(ctx, c.URL, args...)
}

// cliAt runs the aptq CLI as the tenant against the API at url.
func (c *cluster) cliAt(ctx context.Context, url string, args ...string) cliResult {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "aptq"), args...)
	cmd.Env = append(os.Environ(), "APTQ_URL="+url, "APTQ_TOKEN="+c.Token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	if ps := cmd.ProcessState; ps != nil {
		r.cpu = ps.UserTime() + ps.SystemTime()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.exit = ee.ExitCode()
	default:
		r.exit = -1
		r.stderr += "\n" + err.Error()
	}
	return r
}

func (c *cluster) mustCLI(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := c.cli(ctx, args...)
	require.Equal(c.t, 0, r.exit, "aptq %v\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
	return r.stdout
}

// repoURL is where apt clients (and the observers) read a repository.
func (c *cluster) repoURL(repo string) string {
	return c.URL + "/apt/" + c.Tenant + "/" + repo
}

// cleanS3 deletes what the run stored: everything under the tenant's
// prefix, and the uploaded packages (their keys hold the tenant's id in
// this run's database, which other databases reuse, so only keys of
// packages this run built — their names are unique to it — are deleted).
func (c *cluster) cleanS3(packageKeys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := blob.NewS3(ctx, c.s3)
	if err != nil {
		c.t.Logf("clean S3: %v", err)
		return
	}
	err = s.List(ctx, c.Tenant+"/", func(info blob.Info) error { return s.Delete(ctx, info.Key) })
	for _, k := range packageKeys {
		err = errors.Join(err, s.Delete(ctx, k))
	}
	if err != nil {
		c.t.Logf("clean S3: %v", err)
	}
}
