package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// How aptly is driven, so that it does per change what aptq does:
//
//   - `aptly api serve -listen=127.0.0.1:<free port> -no-lock` with a
//     throwaway config (rootDir in the scratch directory, filesystem
//     publishing, gpgProvider gpg, skipContentsPublishing and
//     skipBz2Publishing: Packages + Packages.gz, like aptq's gz-only release)
//     and a throwaway GNUPGHOME holding an unprotected Ed25519 key made by
//     `gpg --quick-gen-key` (aptq signs with Ed25519 too);
//   - seeding: one local repo, every base package uploaded in one multipart
//     POST /api/files/<dir>, added at once with POST /api/repos/<repo>/file/<dir>,
//     then published signed with POST /api/publish/<prefix>;
//   - one change = upload (POST /api/files/<unique dir>, one file) + repo add
//     (POST /api/repos/<repo>/file/<dir>) + publish update
//     (PUT /api/publish/<prefix>/<distribution>, signed), each synchronous;
//   - nothing is retried. A request fails when it errors or answers non-2xx;
//     a repo add also fails when aptly reports FailedFiles. A change fails
//     when any of its three requests fails (it then stops there), or when
//     the run's time budget ends before it finished. Failed requests are
//     counted by kind; at the end the published Packages file is read from
//     disk to count how many of the changes' packages made it anyway (a
//     later successful publish update also publishes an earlier change's
//     package).
type aptlyServer struct {
	b      *bench
	dir    string
	root   string // aptly's rootDir
	URL    string
	gpgKey string // fingerprint of the signing key
	env    []string
	cmd    *exec.Cmd
	exited chan struct{}
	http   *http.Client
	// contents publishes Contents indices (aptly's default; off in S1).
	contents bool
	// lastPublish is how long the seed's publish took.
	lastPublish time.Duration
}

// aptlyPrefix and aptlyDist name the publication every scenario uses.
const (
	aptlyPrefix = "bench"
	aptlyDist   = "stable"
)

// startAptly makes a signing key and a config and starts aptly's API server.
func (b *bench) startAptly(ctx context.Context, name string) (*aptlyServer, error) {
	a := &aptlyServer{b: b, dir: filepath.Join(b.work, name+"-aptly"),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	a.root = filepath.Join(a.dir, "root")
	gnupg := filepath.Join(a.dir, "gnupg")
	if err := os.MkdirAll(gnupg, 0o700); err != nil {
		return nil, err
	}
	a.env = append(append([]string(nil), b.environ...), "GNUPGHOME="+gnupg)
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if _, err := a.run(ctx, "gpg", "--batch", "--passphrase", "", "--quick-gen-key",
		"aptly bench <bench@example.invalid>", "ed25519", "sign", "never"); err != nil {
		return nil, err
	}
	out, err := a.run(ctx, "gpg", "--batch", "--with-colons", "--list-secret-keys")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			a.gpgKey = f[9]
			break
		}
	}
	if a.gpgKey == "" {
		return nil, fmt.Errorf("no fingerprint in gpg --list-secret-keys:\n%s", out)
	}
	conf, err := json.Marshal(map[string]any{
		"rootDir": a.root, "gpgDisableSign": false, "gpgDisableVerify": true, "gpgProvider": "gpg",
		"skipContentsPublishing": true, "skipBz2Publishing": true, "architectures": []string{},
	})
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(a.dir, "aptly.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	a.URL = "http://" + addr
	logFile, err := os.Create(filepath.Join(a.dir, "aptly.log"))
	if err != nil {
		return nil, err
	}
	a.cmd = exec.Command(b.aptly, "api", "serve", "-config="+confPath, "-listen="+addr, "-no-lock")
	a.cmd.Env, a.cmd.Stdout, a.cmd.Stderr = a.env, logFile, logFile
	if err := a.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start aptly: %w", err)
	}
	a.exited = make(chan struct{})
	go func() { _ = a.cmd.Wait(); logFile.Close(); close(a.exited) }()

	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err := a.call(readyCtx, http.MethodGet, "/api/version", nil, "", nil); err == nil {
			break
		}
		select {
		case <-a.exited:
			return nil, errors.New("aptly api serve exited during start-up; see " + logFile.Name())
		case <-readyCtx.Done():
			return nil, fmt.Errorf("aptly api serve not ready: %w", readyCtx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	ok = true
	return a, nil
}

// run runs a helper command (gpg) in aptly's environment.
func (a *aptlyServer) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = a.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Close stops aptly and the gpg-agent its key started, and removes its
// files unless --keep.
func (a *aptlyServer) Close() {
	if a.cmd != nil && a.cmd.Process != nil {
		_ = a.cmd.Process.Signal(os.Interrupt)
		select {
		case <-a.exited:
		case <-time.After(20 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = a.run(ctx, "gpgconf", "--kill", "gpg-agent")
	if !a.b.keep {
		_ = os.RemoveAll(a.dir)
	}
}

// aptlyError is a non-2xx answer of aptly.
type aptlyError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *aptlyError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, oneLine(e.Body))
}

// call sends one request (no retries) and decodes a JSON answer into out.
func (a *aptlyServer) call(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &aptlyError{Method: method, Path: path, Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *aptlyServer) callJSON(ctx context.Context, method, path string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return a.call(ctx, method, path, bytes.NewReader(data), "application/json", out)
}

// createRepo creates a local repository.
func (a *aptlyServer) createRepo(ctx context.Context, repo string) error {
	return a.callJSON(ctx, http.MethodPost, "/api/repos",
		map[string]string{"Name": repo, "DefaultDistribution": aptlyDist, "DefaultComponent": "main"}, nil)
}

// upload sends files to an upload directory in one multipart request,
// streamed from disk.
func (a *aptlyServer) upload(ctx context.Context, dir string, files []string) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, path := range files {
			part, err := mw.CreateFormFile("file", filepath.Base(path))
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			f, err := os.Open(path)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			_, err = io.Copy(part, f)
			f.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	err := a.call(ctx, http.MethodPost, "/api/files/"+url.PathEscape(dir), pr, mw.FormDataContentType(), nil)
	pr.CloseWithError(errors.New("request ended"))
	return err
}

// addDir adds every package of an upload directory to a repository.
func (a *aptlyServer) addDir(ctx context.Context, repo, dir string) error {
	var out struct {
		FailedFiles []string
		Report      struct{ Warnings []string }
	}
	path := "/api/repos/" + url.PathEscape(repo) + "/file/" + url.PathEscape(dir)
	if err := a.call(ctx, http.MethodPost, path, nil, "", &out); err != nil {
		return err
	}
	if len(out.FailedFiles) > 0 {
		return fmt.Errorf("POST %s: failed files %v: %v", path, out.FailedFiles, out.Report.Warnings)
	}
	return nil
}

func (a *aptlyServer) signing() map[string]any {
	return map[string]any{"Batch": true, "GpgKey": a.gpgKey}
}

// publish publishes a local repository, signed, for amd64.
func (a *aptlyServer) publish(ctx context.Context, repo string) error {
	return a.callJSON(ctx, http.MethodPost, "/api/publish/"+aptlyPrefix, map[string]any{
		"SourceKind": "local", "Sources": []map[string]string{{"Name": repo, "Component": "main"}},
		"Distribution": aptlyDist, "Architectures": []string{"amd64"}, "Signing": a.signing(),
		"SkipContents": !a.contents, "SkipBz2": true,
	}, nil)
}

// update republishes the publication after its repository changed.
func (a *aptlyServer) update(ctx context.Context) error {
	return a.callJSON(ctx, http.MethodPut, "/api/publish/"+aptlyPrefix+"/"+aptlyDist, map[string]any{
		"Signing": a.signing(), "SkipContents": !a.contents, "SkipBz2": true,
	}, nil)
}

// seed adds debs to a new repository in bulk and publishes it.
func (a *aptlyServer) seed(ctx context.Context, repo string, debs []debFile) error {
	if err := a.createRepo(ctx, repo); err != nil {
		return err
	}
	start := time.Now()
	if len(debs) > 0 {
		// aptly (Go's multipart reader) refuses forms of more than 1000 parts.
		files := paths(debs)
		for lo := 0; lo < len(files); lo += 500 {
			if err := a.upload(ctx, "seed", files[lo:min(lo+500, len(files))]); err != nil {
				return err
			}
		}
		a.b.logf("aptly: uploaded %d packages in %v", len(debs), time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if err := a.addDir(ctx, repo, "seed"); err != nil {
			return err
		}
		a.b.logf("aptly: added them to repo %s in %v", repo, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}
	if err := a.publish(ctx, repo); err != nil {
		return err
	}
	a.lastPublish = time.Since(start)
	a.b.logf("aptly: published %d packages in %v", len(debs), a.lastPublish.Round(time.Millisecond))
	return nil
}

// Steps of one aptly change, for counting failed requests.
const (
	stepUpload  = "upload"
	stepAdd     = "repo add"
	stepPublish = "publish update"
)

// aptlyChange is one timed change: upload + repo add + publish update.
type aptlyChange struct {
	Steps    map[string]time.Duration // how long each step that ran took
	Elapsed  time.Duration
	FailedAt string // the step that failed, "" when the change succeeded
	Err      error
}

// change runs one change of one package, stopping at the first failure.
func (a *aptlyServer) change(ctx context.Context, repo string, deb debFile) aptlyChange {
	c := aptlyChange{Steps: map[string]time.Duration{}}
	dir := "c-" + deb.Name
	start := time.Now()
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{stepUpload, func() error { return a.upload(ctx, dir, []string{deb.Path}) }},
		{stepAdd, func() error { return a.addDir(ctx, repo, dir) }},
		{stepPublish, func() error { return a.update(ctx) }},
	} {
		t := time.Now()
		err := step.fn()
		c.Steps[step.name] = time.Since(t)
		if err != nil {
			c.FailedAt, c.Err = step.name, err
			break
		}
	}
	c.Elapsed = time.Since(start)
	return c
}

// repoCount counts the packages of a local repository whose name starts
// with prefix (GET /api/repos/<repo>/packages lists keys like
// "Pamd64 name 1.0-1 hash").
func (a *aptlyServer) repoCount(ctx context.Context, repo, prefix string) (int, error) {
	var keys []string
	if err := a.call(ctx, http.MethodGet, "/api/repos/"+url.PathEscape(repo)+"/packages", nil, "", &keys); err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if f := strings.Fields(k); len(f) > 1 && strings.HasPrefix(f[1], prefix) {
			n++
		}
	}
	return n, nil
}

// packagesIndex reads the published (uncompressed) Packages of the
// publication from aptly's public directory.
func (a *aptlyServer) packagesIndex() ([]byte, error) {
	return os.ReadFile(filepath.Join(a.root, "public", aptlyPrefix, "dists", aptlyDist, "main", "binary-amd64", "Packages"))
}

// failureCounter counts failed requests by step and keeps a few examples.
type failureCounter struct {
	mu       sync.Mutex
	byStep   map[string]int
	examples []string
}

func (f *failureCounter) add(step string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byStep == nil {
		f.byStep = map[string]int{}
	}
	f.byStep[step]++
	if len(f.examples) < 3 {
		f.examples = append(f.examples, step+": "+oneLine(err.Error()))
	}
}

func (f *failureCounter) total() int {
	n := 0
	for _, v := range f.byStep {
		n += v
	}
	return n
}

func (f *failureCounter) String() string {
	if f.total() == 0 {
		return "0 failed requests"
	}
	var parts []string
	for _, step := range []string{stepUpload, stepAdd, stepPublish} {
		if n := f.byStep[step]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, step))
		}
	}
	return fmt.Sprintf("%d failed requests (%s)", f.total(), strings.Join(parts, ", "))
}
