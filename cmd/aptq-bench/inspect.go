package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// roundStats are the published rounds of some releases.
type roundStats store.RoundStats

func (rs roundStats) perRound() float64 {
	if rs.Rounds == 0 {
		return 0
	}
	return float64(rs.Changes) / float64(rs.Rounds)
}

// withStore runs fn on the system's database (aptq exposes no round
// counters or step times over its API).
func (s *system) withStore(ctx context.Context, fn func(*store.Store) error) error {
	pool, err := store.Connect(ctx, s.dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(store.New(pool))
}

// rounds reads the published rounds of the named releases.
func (s *system) rounds(ctx context.Context, releases []string) (roundStats, error) {
	var rs store.RoundStats
	err := s.withStore(ctx, func(st *store.Store) (err error) {
		rs, err = st.PublishedRoundStats(ctx, releases)
		return err
	})
	return roundStats(rs), err
}

// Phases of one publish as the database recorded them (the server's clock,
// which is this machine's): the change row is inserted once its package is
// uploaded and copied to the pool; the round row once the worker picked
// the job, took the lease, generated the indexes and uploaded their
// by-hash objects; then signed_at, committed_at and published_at.
var phaseNames = []string{"client until change accepted", "cut (pick-up, index, by-hash)", "signature",
	"verify + commit", "upload to published", "until CLI exit"}

// phases splits a publish that ran from start to end into phaseNames, for
// the round of the release that made generation.
func (s *system) phases(ctx context.Context, release string, generation int64, start, end time.Time) ([]time.Duration, error) {
	var t store.RoundTimes
	err := s.withStore(ctx, func(st *store.Store) (err error) {
		t, err = st.PublishedRoundTimes(ctx, release, generation)
		return err
	})
	if err != nil {
		return nil, err
	}
	points := []time.Time{start, t.FirstChange, t.Cut, t.Signed, t.Committed, t.Published, end}
	out := make([]time.Duration, len(points)-1)
	for i := range out {
		out[i] = points[i+1].Sub(points[i])
	}
	return out, nil
}

// roundBytes reads what the round that made generation wrote to S3 and the
// size of the index files S3 holds that it changed
// (store.PublishedRoundBytes).
func (s *system) roundBytes(ctx context.Context, release string, generation int64) (written, changed int64, err error) {
	err = s.withStore(ctx, func(st *store.Store) (err error) {
		written, changed, err = st.PublishedRoundBytes(ctx, release, generation)
		return err
	})
	return written, changed, err
}

// get reads a file of the published repository through aptqd.
func (s *system) get(ctx context.Context, repo, path string) ([]byte, error) {
	u := s.URL + "/apt/" + s.Tenant + "/" + repo + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return data, nil
}

// packages reads a release's main/binary-amd64/Packages as apt does: its
// .gz (S3 holds no uncompressed index), decompressed.
func (s *system) packages(ctx context.Context, repo, release string) ([]byte, error) {
	data, err := s.get(ctx, repo, "dists/"+release+"/main/binary-amd64/Packages.gz")
	if err != nil {
		return nil, err
	}
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read Packages.gz of %s: %w", release, err)
	}
	return io.ReadAll(r)
}

// generation reads Aptq-Generation from a release's published InRelease.
func (s *system) generation(ctx context.Context, repo, release string) (int64, error) {
	data, err := s.get(ctx, repo, "dists/"+release+"/InRelease")
	if err != nil {
		return 0, err
	}
	text, err := sign.ClearsignedText(data)
	if err != nil {
		return 0, err
	}
	rel, err := apt.ParseRelease(text)
	if err != nil {
		return 0, err
	}
	if rel.Meta.Generation == 0 {
		return 0, errors.New("InRelease has no Aptq-Generation")
	}
	return rel.Meta.Generation, nil
}

// countPackages counts the stanzas of a published Packages index whose
// name starts with prefix.
func countPackages(index []byte, prefix string) int {
	n := 0
	for _, line := range bytes.Split(index, []byte("\n")) {
		if name, ok := bytes.CutPrefix(line, []byte("Package: ")); ok && bytes.HasPrefix(name, []byte(prefix)) {
			n++
		}
	}
	return n
}

// procStatus reads a memory figure (kB in /proc/<pid>/status), in bytes.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// processCPU is the user + system CPU time a process has used so far.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := cmpOr(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// machineBusy is the CPU time all cores have spent busy so far (every
// state of the cpu line of /proc/stat but idle and iowait).
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are already in user
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// cpuMeter measures, over an interval, the CPU time aptqd and the whole
// machine used. The machine's includes Postgres and versitygw working for
// aptqd, and anything else running.
type cpuMeter struct {
	pid               int
	aptqd, busy       time.Duration
	aptqdErr, busyErr error
}

func startCPUMeter(pid int) cpuMeter {
	m := cpuMeter{pid: pid}
	m.aptqd, m.aptqdErr = processCPU(pid)
	m.busy, m.busyErr = machineBusy()
	return m
}

// since returns the CPU time aptqd and the machine used since the meter
// started; ok is false when /proc could not tell.
func (m cpuMeter) since() (aptqd, busy time.Duration, ok bool) {
	a, err1 := processCPU(m.pid)
	b, err2 := machineBusy()
	if cmpOr(cmpOr(m.aptqdErr, m.busyErr), cmpOr(err1, err2)) != nil {
		return 0, 0, false
	}
	return a - m.aptqd, b - m.busy, true
}

// note adds the interval's figures to a row that ran for wall.
func (m cpuMeter) note(r *Row, wall time.Duration) {
	aptqd, busy, ok := m.since()
	if !ok {
		return
	}
	r.metric("aptqd_cpu_s", aptqd.Seconds())
	r.metric("machine_busy_s", busy.Seconds())
	r.note("aptqd CPU %.1f s; machine busy %.1f of %.1f core-s", aptqd.Seconds(), busy.Seconds(),
		float64(runtime.NumCPU())*wall.Seconds())
}
