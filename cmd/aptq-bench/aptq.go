package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// system is one running aptq: its own database, an `aptqd all` on a free
// loopback port and a tenant of its own.
type system struct {
	b       *bench
	name    string
	dir     string // scratch files of this system
	dbName  string
	dbURL   string
	URL     string
	Tenant  string
	Token   string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	// lastSeedPublish is how long the last seed's publish took.
	lastSeedPublish time.Duration
}

// startSystem creates a database, migrates it, starts aptqd on it and
// creates a tenant. Close undoes all of it.
func (b *bench) startSystem(ctx context.Context, name string) (*system, error) {
	s := &system{b: b, name: name, dir: filepath.Join(b.work, name)}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	s.dbName = "aptq_bench_" + strings.ToLower(name) + "_" + randomHex(4)
	if err := b.adminExec(ctx, "CREATE DATABASE "+s.dbName); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(b.dbURL)
	if err != nil {
		return nil, fmt.Errorf("APTQ_DATABASE_URL: %w", err)
	}
	u.Path = "/" + s.dbName
	s.dbURL = u.String()
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if out, err := exec.CommandContext(ctx, s.aptqd(), "migrate", "--database-url", s.dbURL).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("aptqd migrate: %w\n%s", err, out)
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + addr
	s.logPath = filepath.Join(s.dir, "aptqd.log")
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: Close stops the server with SIGINT, as a user would.
	s.cmd = exec.Command(s.aptqd(), "all", "--listen", addr, "--database-url", s.dbURL)
	// Seeding follows 20 to 100 changes of 1000 packages from one process;
	// on a machine shared with other work a re-poll can come later than
	// the default 10 s client grace, and the change would fail client_gone.
	s.cmd.Env = append(append([]string(nil), b.environ...), "APTQ_CLIENT_GRACE=60s")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start aptqd: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}

	s.Tenant = "bench-" + strings.ToLower(name) + "-" + randomHex(4)
	out, err := exec.CommandContext(ctx, s.aptqd(), "admin", "create-tenant", s.Tenant, "--database-url", s.dbURL).Output()
	if err != nil {
		return nil, fmt.Errorf("aptqd admin create-tenant: %w", exitDetail(err))
	}
	s.Token = strings.TrimSpace(string(out))
	ok = true
	return s, nil
}

func (s *system) aptqd() string { return filepath.Join(s.b.bin, "aptqd") }

// PID is the process id of aptqd.
func (s *system) PID() int { return s.cmd.Process.Pid }

func (s *system) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		// Start-up polling has nothing to subscribe to.
		select {
		case <-s.exited:
			return fmt.Errorf("aptqd exited during start-up:\n%s", s.logTail(4000))
		case <-ctx.Done():
			return fmt.Errorf("aptqd not ready: %w\n%s", ctx.Err(), s.logTail(4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *system) logTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// Close stops aptqd (SIGINT, then SIGKILL after 20 s), removes what the
// system left in S3 and drops its database, unless --keep.
func (s *system) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.b.keep {
		s.b.logf("%s: kept database %s, aptqd log %s", s.name, s.dbName, s.logPath)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s.dbURL != "" {
		if err := s.cleanS3(ctx); err != nil {
			s.b.logf("%s: S3 clean-up: %v", s.name, err)
		}
	}
	if err := s.b.adminExec(ctx, "DROP DATABASE IF EXISTS "+s.dbName+" WITH (FORCE)"); err != nil {
		s.b.logf("%s: drop database %s: %v", s.name, s.dbName, err)
	}
}

// cleanS3 deletes the objects this system wrote: everything under its
// tenant's prefix, and the uploaded packages, named by tenant id and
// SHA-256. The tenant id is local to the database (other test databases
// reuse it), so only this system's own package contents are deleted.
func (s *system) cleanS3(ctx context.Context) error {
	var keys []string
	err := s.withStore(ctx, func(st *store.Store) (err error) {
		keys, err = st.PackageBlobKeys(ctx)
		return err
	})
	if err != nil {
		return err
	}
	bucket, err := blob.NewS3(ctx, s.b.s3cfg)
	if err != nil {
		return err
	}
	if s.Tenant != "" {
		err = bucket.List(ctx, s.Tenant+"/", func(i blob.Info) error {
			keys = append(keys, i.Key)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return deleteAll(ctx, bucket, keys)
}

// deleteAll deletes keys, 16 at a time.
func deleteAll(ctx context.Context, bucket blob.Blob, keys []string) error {
	work := make(chan string)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				if err := bucket.Delete(ctx, k); err != nil && !errors.Is(err, blob.ErrNotFound) {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return cmpOr(first, ctx.Err())
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// adminExec runs one statement on the server's maintenance database.
func (b *bench) adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// exitDetail adds a failed command's stderr to its error.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

const mib = 1 << 20
