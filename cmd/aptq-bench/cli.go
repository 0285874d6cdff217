package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cliResult is one run of the aptq CLI.
type cliResult struct {
	Stdout, Stderr string
	Code           int // exit status; -1 when it did not exit normally
	Start, End     time.Time
	Elapsed        time.Duration // from start to exit
	MaxRSS         int64         // peak resident set in bytes, when sampled
	CPU            time.Duration // user + system time the CLI used
	Err            error         // non-nil when Code != 0
}

// cli runs the aptq CLI as a user would, with APTQ_URL and APTQ_TOKEN set.
func (s *system) cli(ctx context.Context, args ...string) cliResult {
	return s.runCLI(ctx, false, args...)
}

// runCLI runs the CLI; with sampleRSS it also records the CLI's peak RSS.
//
// The peak is VmHWM of /proc/<pid>/status, sampled every 5 ms while the CLI
// runs (VmHWM only grows, so the last sample holds the peak but for what
// the last 5 ms added). Not rusage's ru_maxrss: Go starts children with
// vfork, so the child runs on the parent's memory until it execs, and Linux
// carries that memory's high-water mark over exec into the child's
// ru_maxrss — it reports the harness's own RSS whenever that is larger.
func (s *system) runCLI(ctx context.Context, sampleRSS bool, args ...string) cliResult {
	cmd := exec.CommandContext(ctx, filepath.Join(s.b.bin, "aptq"), args...)
	cmd.Env = append(append([]string(nil), s.b.environ...), "APTQ_URL="+s.URL, "APTQ_TOKEN="+s.Token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Start()
	var peak int64
	if err == nil {
		var sampled chan struct{}
		stop := make(chan struct{})
		if sampleRSS {
			sampled = make(chan struct{})
			go func() {
				defer close(sampled)
				t := time.NewTicker(5 * time.Millisecond)
				defer t.Stop()
				for {
					if hwm, err := procStatus(cmd.Process.Pid, "VmHWM"); err == nil {
						peak = max(peak, hwm)
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}()
		}
		err = cmd.Wait()
		close(stop)
		if sampled != nil {
			<-sampled
		}
	}
	end := time.Now()
	r := cliResult{Start: start, End: end, Elapsed: end.Sub(start), Stdout: stdout.String(), Stderr: stderr.String(), MaxRSS: peak}
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
		r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	} else {
		r.Code = -1
	}
	if err != nil {
		r.Err = fmt.Errorf("aptq %s: %w: %s", strings.Join(args, " "), err, lastLine(r.Stderr))
	}
	return r
}

// mustCLI runs the CLI and returns an error unless it exits 0.
func (s *system) mustCLI(ctx context.Context, args ...string) (string, error) {
	r := s.cli(ctx, args...)
	return r.Stdout, r.Err
}

// publishOutcome is what `aptq pkg add --json` prints.
type publishOutcome struct {
	JobID      int64  `json:"job_id"`
	State      string `json:"state"`
	Generation int64  `json:"generation"`
	URL        string `json:"url"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// pkgAdd runs `aptq pkg add --json` of one or more files and decodes its outcome.
func (s *system) pkgAdd(ctx context.Context, repo, release, key string, files ...string) (cliResult, publishOutcome) {
	return s.pkgAddRSS(ctx, false, repo, release, key, files...)
}

// pkgAddRSS is pkgAdd, also sampling the CLI's peak RSS when sampleRSS.
func (s *system) pkgAddRSS(ctx context.Context, sampleRSS bool, repo, release, key string, files ...string) (cliResult, publishOutcome) {
	return s.pkgAddArgs(ctx, sampleRSS, []string{"--repo", repo, "--release", release, "--key", key}, files...)
}

// pkgAddArgs runs `aptq pkg add --json` with args and files.
func (s *system) pkgAddArgs(ctx context.Context, sampleRSS bool, args []string, files ...string) (cliResult, publishOutcome) {
	args = append(append([]string{"pkg", "add", "--json"}, args...), files...)
	r := s.runCLI(ctx, sampleRSS, args...)
	var out publishOutcome
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil && r.Err == nil {
		r.Err = fmt.Errorf("aptq pkg add --json printed %q: %w", r.Stdout, err)
	}
	return r, out
}

// repoWithKey makes a signing key, a repository with it, and releases of
// amd64 with gz indexes only (xz is measured separately, in S4).
func (s *system) repoWithKey(ctx context.Context, repo string, releases ...string) (keyFile string, err error) {
	keyFile = filepath.Join(s.dir, repo+".asc")
	steps := [][]string{
		{"key", "generate", "--name", "aptq bench " + repo, "--email", "bench@example.invalid", "--out", keyFile},
		{"repo", "create", repo},
		{"key", "add", "--repo", repo, strings.TrimSuffix(keyFile, ".asc") + ".pub.asc"},
	}
	for _, rel := range releases {
		steps = append(steps, []string{"release", "create", "--repo", repo, "--release", rel,
			"--architectures", "amd64", "--compressions", "gz", "--contents=false"})
	}
	for _, args := range steps {
		if _, err := s.mustCLI(ctx, args...); err != nil {
			return "", err
		}
	}
	return keyFile, nil
}

// checkLine is what `aptq pkg add` prints once it has checked a round
// before signing it: "round N checked: … (X ms, Y MB fetched)".
var checkLine = regexp.MustCompile(`round \d+ checked: .*\((\d+) ms, [0-9.]+ MB fetched\)`)

// checkTime is the duration of the CLI's check before signing, from its
// progress output; false when it printed none (e.g. --no-verify).
func checkTime(stderr string) (time.Duration, bool) {
	m := checkLine.FindStringSubmatch(stderr)
	if m == nil {
		return 0, false
	}
	ms, err := strconv.Atoi(m[1])
	return time.Duration(ms) * time.Millisecond, err == nil
}

// addsRun is what n concurrent `aptq pkg add` runs did.
type addsRun struct {
	durations []time.Duration // each CLI's start to exit
	cpu       []time.Duration // each CLI's CPU time
	failures  int
	firstErr  error
	wall      time.Duration
}

// concurrentAdds runs n `aptq pkg add` at once (at most limit; 0: all),
// the i-th adding file(i) to release(i).
func (s *system) concurrentAdds(ctx context.Context, n, limit int, repo, key string, release, file func(i int) string) addsRun {
	var mu sync.Mutex
	run := addsRun{cpu: make([]time.Duration, n)}
	start := time.Now()
	run.durations = runConcurrently(n, limit, func(i int) {
		r, _ := s.pkgAdd(ctx, repo, release(i), key, file(i))
		run.cpu[i] = r.CPU
		if r.Err != nil {
			mu.Lock()
			run.failures++
			run.firstErr = cmpOr(run.firstErr, r.Err)
			mu.Unlock()
		}
	})
	run.wall = time.Since(start)
	return run
}
