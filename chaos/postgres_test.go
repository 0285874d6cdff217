package chaos

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
)

// pgUser runs Postgres when the test runs as root (Postgres refuses root);
// scripts/services.sh creates it.
const pgUser = "aptq-pg"

// postgres is a PostgreSQL server of the test's own: the test restarts it,
// which must not disturb the other packages' tests on the shared server.
type postgres struct {
	bindir string
	data   string
	port   int
	asUser []string // command prefix that runs as pgUser; empty when not root
	opts   string   // the server's command-line options
	URL    string   // of the test database
}

// pgBindir finds the server binaries like scripts/services.sh does.
func pgBindir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- { // the newest version first
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Dir(real), nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (pg_ctl): run `make services`, which installs them")
}

// startPostgres initialises a cluster in a fresh directory, starts it on a
// free loopback port with maxConns connections (0: 300), none reserved for
// superusers (the test connects as one), and creates the test database.
// Everything is removed when the test ends.
func startPostgres(t *testing.T, maxConns int) *postgres {
	t.Helper()
	bindir, err := pgBindir()
	require.NoError(t, err)
	p := &postgres{bindir: bindir}
	// Under /var/tmp, not the test's temp dir: pgUser must reach it, and a
	// TMPDIR under /root would not be reachable.
	parent := os.TempDir()
	if os.Geteuid() == 0 {
		parent = "/var/tmp"
		p.asUser = []string{"runuser", "-u", pgUser, "--"}
	}
	p.data, err = os.MkdirTemp(parent, "aptq-chaos-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(p.data) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup(pgUser)
		require.NoError(t, err, "user %s: run `make services`, which creates it", pgUser)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(p.data, uid, gid))
	}
	require.NoError(t, os.Chmod(p.data, 0o700))

	out, err := p.ctl(context.Background(), "initdb", "-D", p.data, "-U", "aptq", "--auth=trust", "-E", "UTF8", "--no-locale")
	require.NoError(t, err, "initdb: %s", out)
	addr := systest.FreeAddr(t)
	_, portStr, _ := strings.Cut(addr, ":")
	p.port, _ = strconv.Atoi(portStr)
	// fsync off like the shared test server: the data is disposable. Commits
	// stay synchronous, so a restart cannot lose an acknowledged one.
	p.opts = fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c max_connections=%d -c superuser_reserved_connections=0",
		p.port, p.data, cmp.Or(maxConns, 300))
	out, err = p.ctl(context.Background(), "pg_ctl", "-D", p.data, "-w", "-t", "60", "-l", p.logFile(), "-o", p.opts, "start")
	require.NoError(t, err, "pg_ctl start: %s", out)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := p.ctl(ctx, "pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Logf("stop postgres: %v: %s", err, out)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://aptq@127.0.0.1:%d/postgres?sslmode=disable", p.port))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE DATABASE chaos`)
	require.NoError(t, err)
	p.URL = fmt.Sprintf("postgres://aptq@127.0.0.1:%d/chaos?sslmode=disable", p.port)
	return p
}

// ctl runs one of the server's binaries as the server's user.
func (p *postgres) ctl(ctx context.Context, name string, args ...string) (string, error) {
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(p.bindir, name)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/" // runuser keeps the cwd, which pgUser may not be allowed to enter
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// restart restarts the server the way an operator does (fast shutdown:
// sessions are cut, then a checkpoint). With down > 0 the server stays
// stopped that long between the stop and the start, like a restart on a
// production machine, whose checkpoint and recovery take seconds; with 0 it
// is `pg_ctl restart`. It returns how long the server was away.
func (p *postgres) restart(ctx context.Context, down time.Duration) (time.Duration, error) {
	start := time.Now()
	// -l: without it the new server would write to our pipe and keep it open.
	if down == 0 {
		out, err := p.ctl(ctx, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "-l", p.logFile(), "-o", p.opts, "restart")
		if err != nil {
			return 0, fmt.Errorf("pg_ctl restart: %v: %s", err, out)
		}
		return time.Since(start), nil
	}
	if out, err := p.ctl(ctx, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return 0, fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	time.Sleep(down) // the outage itself
	if out, err := p.ctl(ctx, "pg_ctl", "-D", p.data, "-w", "-t", "60", "-l", p.logFile(), "-o", p.opts, "start"); err != nil {
		return 0, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return time.Since(start), nil
}

func (p *postgres) logFile() string { return filepath.Join(p.data, "postgres.log") }

// logTail returns the end of the server's log.
func (p *postgres) logTail(n int) string {
	data, err := os.ReadFile(p.logFile())
	if err != nil {
		return err.Error()
	}
	return systest.Tail(string(data), n)
}

// query runs fn on a fresh connection: the server restarts during the
// test, so the test keeps no connection open.
func (p *postgres) query(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(conn)
}
