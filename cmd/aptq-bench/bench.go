package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/aptq/aptq/blob"
)

// config is what main read from the flags and the environment.
type config struct {
	short        bool
	only         map[string]bool // nil: every scenario
	aptly        string          // the aptly binary; "" when not compared
	aptlyMissing string          // why aptly is not compared
	keep         bool
	root         string   // the aptq module
	work         string   // scratch directory
	cache        string   // where generated package sets are kept between runs; "" for none
	environ      []string // the environment children start from
	dbURL        string   // APTQ_DATABASE_URL: the server scenario databases are made on
	s3cfg        blob.Config
	log          io.Writer
	sizes        sizes
	// s1NoVerify adds an S1 row of publishes with aptq --no-verify, whose
	// difference to the verified row is what the signer's check costs.
	s1NoVerify bool
}

// bench is one run: its config and the binaries it built.
type bench struct {
	config
	bin string // directory holding aptqd and aptq
}

// scenario is one of S1…S9 or S1C; it returns its rows (aptq's, and aptly's when
// it compares) and the aptly/aptq ratios.
type scenario struct {
	name    string
	timeout time.Duration
	run     func(b *bench, ctx context.Context) ([]Row, []Ratio)
}

var scenarios = []scenario{
	{"S1", 40 * time.Minute, (*bench).s1},
	{"S2", 60 * time.Minute, (*bench).s2},
	{"S3", 15 * time.Minute, (*bench).s3},
	{"S4", 15 * time.Minute, (*bench).s4},
	{"S5", 15 * time.Minute, (*bench).s5},
	{"S6", 60 * time.Minute, (*bench).s6},
	{"S7", 30 * time.Minute, (*bench).s7},
	{"S8", 60 * time.Minute, (*bench).s8},
	{"S9", 30 * time.Minute, (*bench).s9},
	{"S1C", 40 * time.Minute, (*bench).s1c},
}

func isScenario(name string) bool {
	for _, s := range scenarios {
		if s.name == name {
			return true
		}
	}
	return false
}

// runBench builds the binaries and runs the selected scenarios one after
// the other, so that they do not disturb each other's timings.
func runBench(ctx context.Context, cfg config) (Report, error) {
	b := &bench{config: cfg, bin: filepath.Join(cfg.work, "bin")}
	rep := Report{Date: time.Now(), Variant: "long", Machine: machine(ctx, cfg.aptly)}
	if cfg.short {
		rep.Variant = "short"
	}
	b.logf("building aptqd and aptq (without -race) into %s", b.bin)
	if err := b.build(ctx); err != nil {
		return rep, err
	}
	for _, s := range scenarios {
		if cfg.only != nil && !cfg.only[s.name] {
			continue
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		start := time.Now()
		b.logf("%s: start", s.name)
		sctx, cancel := context.WithTimeout(ctx, s.timeout)
		rows, ratios := s.run(b, sctx)
		cancel()
		rep.Rows = append(rep.Rows, rows...)
		rep.Ratios = append(rep.Ratios, ratios...)
		b.logf("%s: done in %v", s.name, time.Since(start).Round(time.Second))
	}
	rep.Machine.LoadEnd = loadAverage()
	return rep, ctx.Err()
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// build compiles aptqd and aptq as a user gets them: no race detector.
func (b *bench) build(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin+"/", "./cmd/aptqd", "./cmd/aptq")
	cmd.Dir, cmd.Env = b.root, b.environ
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// machine describes the host for the report header.
func machine(ctx context.Context, aptly string) Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemoryGB = int((uint64(si.Totalram)*uint64(si.Unit) + 1<<29) >> 30)
	}
	m.LoadStart = loadAverage()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if aptly != "" {
		if out, err := exec.CommandContext(ctx, aptly, "version").Output(); err == nil {
			m.Aptly = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "aptly version:"))
		}
	}
	return m
}

// loadAverage is the 1-minute load average, or 0 when unknown.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscan(string(data), &l)
	return l
}

func utsString(cs []int8) string {
	var sb strings.Builder
	for _, c := range cs {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// errorRow is the row of a scenario that could not run to the end.
func errorRow(scenario, variant, system string, err error) Row {
	return Row{Scenario: scenario, Variant: variant, System: system, Error: err.Error()}
}

// skippedRow is an aptly row that did not run, saying why.
func skippedRow(scenario, variant, why string) Row {
	return Row{Scenario: scenario, Variant: variant, System: "aptly", Skipped: why}
}
