package chaos

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// publish is one `aptq pkg add` of one package, and what came of it.
type publish struct {
	n                   int
	release             string
	pkg, version, arch  string
	deb, sha256         string
	started, ended      time.Time
	res                 cliResult
	out                 outcome
	parsed              bool   // the CLI printed its JSON outcome
	duringChaos, killed bool   // launched before chaos ended; killed by the harness's deadline
	api                 string // the API the CLI uses; empty: the cluster's first
}

// outcome is what pkg add prints with --json.
type outcome struct {
	JobID      *int64 `json:"job_id"`
	State      string `json:"state"`
	Generation *int64 `json:"generation"`
	URL        string `json:"url"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (p *publish) errorCode() string {
	if p.out.Error != nil {
		return p.out.Error.Code
	}
	return ""
}

// makePublishes builds n packages, spread over the releases, with names
// unique to the run (so their content, hence their S3 keys, are too).
func makePublishes(t *testing.T, dir, runID string, n int, releases []string) []*publish {
	t.Helper()
	archs := []string{"amd64", "arm64", "amd64", "arm64", "all"}
	pubs := make([]*publish, n)
	for i := range n {
		p := &publish{n: i, release: releases[i%len(releases)], arch: archs[i%len(archs)],
			pkg: fmt.Sprintf("chaos-%s-%04d", runID, i), version: fmt.Sprintf("1.%d-1", i%7)}
		data := debtest.Build(t, debtest.Options{Package: p.pkg, Version: p.version, Architecture: p.arch,
			Description: "chaos test package\nbuilt for one run of the chaos test"})
		sum := sha256.Sum256(data)
		p.sha256 = hex.EncodeToString(sum[:])
		p.deb = filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", p.pkg, p.version, p.arch))
		require.NoError(t, os.WriteFile(p.deb, data, 0o644))
		pubs[i] = p
	}
	return pubs
}

// load runs the publishes, at most concurrency at a time.
type load struct {
	launched chan struct{} // closed when every CLI has started
	wg       sync.WaitGroup
	mu       sync.Mutex
	running  int
	maxSeen  int
}

// cliTimeout is every CLI's --timeout: a CLI that has not seen its change
// published or failed by then gives up (exit 3) and cancels it if it can.
const cliTimeout = 3 * time.Minute

// launchTimes starts half the publishes as a steady trickle and the other
// half in waves of 1 to concurrency CLIs, both spread evenly over spread:
// CLIs are in flight whenever the driver strikes, and the bursts (like a CI
// fleet's) make rounds coalesce changes.
func launchTimes(n, concurrency int, spread time.Duration, rng *rand.Rand) []time.Duration {
	trickle := n / 2
	var out []time.Duration
	for i := range trickle {
		out = append(out, spread*time.Duration(i)/time.Duration(trickle))
	}
	var sizes []int
	for left := n - trickle; left > 0; {
		size := min(left, 1+rng.IntN(concurrency))
		sizes = append(sizes, size)
		left -= size
	}
	for i, size := range sizes {
		at := spread * time.Duration(2*i+1) / time.Duration(2*len(sizes))
		for range size {
			out = append(out, at)
		}
	}
	slices.Sort(out)
	return out
}

func startLoad(c *cluster, pubs []*publish, keyFile string, concurrency int, spread time.Duration,
	seed int64, chaosOver func() bool) *load {
	l := &load{launched: make(chan struct{})}
	sem := make(chan struct{}, concurrency)
	times := launchTimes(len(pubs), concurrency, spread, rand.New(rand.NewPCG(uint64(seed), 11)))
	start := time.Now()
	go func() {
		defer close(l.launched)
		for i, p := range pubs {
			if d := time.Until(start.Add(times[i])); d > 0 {
				time.Sleep(d) // pacing of the load, not synchronisation
			}
			sem <- struct{}{}
			l.wg.Add(1)
			p.duringChaos = !chaosOver()
			go func() {
				defer l.wg.Done()
				defer func() { <-sem }()
				l.track(+1)
				defer l.track(-1)
				l.run(c, p, keyFile)
			}()
		}
	}()
	return l
}

// inFlight is the number of CLIs running now.
func (l *load) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

func (l *load) track(d int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running += d
	l.maxSeen = max(l.maxSeen, l.running)
}

// run runs one CLI. The harness kills it only a minute after its own
// timeout: a CLI that outlives its --timeout is a finding.
func (l *load) run(c *cluster, p *publish, keyFile string) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout+time.Minute)
	defer cancel()
	p.started = time.Now()
	p.res = c.cliAt(ctx, cmp.Or(p.api, c.URL), "pkg", "add", "--repo", repoName, "--release", p.release, "--key", keyFile,
		"--json", "--timeout", cliTimeout.String(), p.deb)
	p.ended = time.Now()
	p.killed = ctx.Err() != nil
	out := strings.TrimSpace(p.res.stdout)
	if i := strings.LastIndex(out, "\n{"); i >= 0 {
		out = out[i+1:]
	}
	p.parsed = json.Unmarshal([]byte(out), &p.out) == nil
}

// wait waits for every CLI to exit, until the deadline.
func (l *load) wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { <-l.launched; l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
