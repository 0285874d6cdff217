// Command aptq-bench measures aptq as a user runs it — the aptqd server and
// the aptq CLI as separate processes, against the Postgres and S3 (versitygw)
// of `make services` — and, when Debian's aptly is installed, aptly's API
// server on the same package sets. It prints a table (or --json) with the
// median, p95 and max of each scenario:
//
//	S1  one publish (CLI start → exit 0, InRelease checked) into a release of 20 000 packages
//	S2  1 000 concurrent `pkg add` to one release, all at once and 200 at a time
//	S3  50 releases × 20 concurrent publishes each
//	S4  full index generation for 100 000 packages (apt's benchmark)
//	S5  peak RSS of aptqd and of the CLI during a 1 GiB upload
//	S6  one publish into a release of 100 000 packages (4 components, amd64 and arm64, gz and xz)
//	S7  one `pkg add` of 10 000 files: wall time and rounds
//	S8  aptq import of a 20 000-package repository (apt-ftparchive, signed) served over HTTP
//	S9  one `pkg copy --all` of 20 000 packages into another release (a snapshot promotion)
//
// Usage (after `make services`; `make bench` runs the short variant):
//
//	. .aptq/env && go run ./cmd/aptq-bench [--short] [--json] [--only S1,S2] [--aptly=false]
//
// It starts nothing beyond aptqd and (for the comparison) aptly: each
// scenario gets its own database on the server of APTQ_DATABASE_URL, its own
// aptqd on a free loopback port and its own tenant; databases, S3 objects,
// processes and scratch files are removed at the end unless --keep.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aptq/aptq/blob"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aptq-bench:", err)
		os.Exit(1)
	}
}

// run reads the flags and the APTQ_* environment, runs the scenarios and
// prints the report on stdout; progress goes to stderr.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("aptq-bench", flag.ContinueOnError)
	short := fs.Bool("short", false, "the short variant (`make bench`, ≤ 5 minutes): smaller S1 base, S2 and S3, 256 MiB S5")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of a table")
	only := fs.String("only", "", "comma-separated scenarios to run, e.g. S1,S2 (default all)")
	withAptly := fs.Bool("aptly", true, "compare S1 and S2 with aptly when the aptly command is installed")
	keep := fs.Bool("keep", false, "keep the scratch directory, databases and S3 objects, for debugging")
	work := fs.String("work", "", "scratch directory (default: a new temporary directory)")
	cache := fs.String("cache", "", "directory keeping generated .deb sets between runs (default .aptq/bench-debs in the module; \"none\" for none)")
	var sz sizes
	fs.IntVar(&sz.s1Base, "s1-base", 0, "override: packages already in the S1 release")
	fs.IntVar(&sz.s1Runs, "s1-runs", 0, "override: timed S1 publishes")
	fs.IntVar(&sz.s2N, "s2-n", 0, "override: S2 publishes per mode")
	fs.IntVar(&sz.s6Base, "s6-base", 0, "override: packages already in the S6 release")
	fs.IntVar(&sz.s6Runs, "s6-runs", 0, "override: timed S6 publishes")
	fs.IntVar(&sz.s7Files, "s7-files", 0, "override: files of the S7 pkg add")
	fs.IntVar(&sz.s9N, "s9-n", 0, "override: packages S9 copies")
	fs.IntVar(&sz.aptlyS2N, "aptly-s2-n", 0, "override: S2 changes per mode against aptly")
	s5MiB := fs.Int("s5-mib", 0, "override: S5 upload size in MiB")
	noVerifyRow := fs.Bool("s1-no-verify", true, "S1: also time the gz+xz publishes with aptq --no-verify, to show what the\nsigner's check of each round costs")
	tableFrom := fs.String("table-from", "", "print the table of a report saved with --json, and run nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *tableFrom != "" {
		return printSaved(*tableFrom, stdout)
	}
	sz.s5Bytes = int64(*s5MiB) << 20

	cfg := config{
		short:   *short,
		keep:    *keep,
		environ: os.Environ(),
		log:     os.Stderr,
		dbURL:   os.Getenv("APTQ_DATABASE_URL"),
		s3cfg: blob.Config{Endpoint: os.Getenv("APTQ_S3_ENDPOINT"), Region: envOr("APTQ_S3_REGION", "us-east-1"),
			Bucket: os.Getenv("APTQ_S3_BUCKET"), AccessKey: os.Getenv("APTQ_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("APTQ_S3_SECRET_KEY")},
		sizes:      defaultSizes(*short).override(sz),
		s1NoVerify: *noVerifyRow,
	}
	if cfg.dbURL == "" || cfg.s3cfg.Bucket == "" {
		return errors.New("APTQ_DATABASE_URL and APTQ_S3_BUCKET are not set: run `make services` and `. .aptq/env` (or `make bench`)")
	}
	var err error
	if cfg.only, err = parseOnly(*only); err != nil {
		return err
	}
	switch path, lookErr := exec.LookPath("aptly"); {
	case !*withAptly:
		cfg.aptlyMissing = "aptly comparison off (--aptly=false)"
	case lookErr != nil:
		cfg.aptlyMissing = "aptly not installed"
	default:
		cfg.aptly = path
	}
	if cfg.root, err = moduleRoot(ctx); err != nil {
		return err
	}
	switch *cache {
	case "":
		cfg.cache = filepath.Join(cfg.root, ".aptq", "bench-debs")
	case "none":
	default:
		cfg.cache = *cache
	}
	if *work != "" {
		cfg.work, err = filepath.Abs(*work)
		if err == nil {
			err = os.MkdirAll(cfg.work, 0o755)
		}
	} else {
		cfg.work, err = os.MkdirTemp("", "aptq-bench-")
	}
	if err != nil {
		return err
	}
	if !cfg.keep && *work == "" {
		defer os.RemoveAll(cfg.work)
	}

	rep, err := runBench(ctx, cfg)
	if err != nil {
		return err
	}
	if *jsonOut {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

// printSaved prints the table of a report that --json wrote.
func printSaved(path string, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return rep.WriteTable(stdout)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseOnly reads --only: scenario names, case-insensitive.
func parseOnly(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	only := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToUpper(strings.TrimSpace(name))
		if !isScenario(name) {
			return nil, fmt.Errorf("--only: unknown scenario %q (want S1…S9 or S1C)", name)
		}
		only[name] = true
	}
	return only, nil
}

// moduleRoot is the directory of aptq's go.mod, where the binaries are
// built and apt's benchmark runs.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run aptq-bench inside the aptq module (go run ./cmd/aptq-bench)")
	}
	return filepath.Dir(gomod), nil
}

// sizes are the scenario parameters of a variant.
type sizes struct {
	s1Base, s1Runs    int // packages already published; timed publishes
	s2N, s2Window     int // publishes per mode; CLIs at a time in the windowed mode
	aptlyS2N          int // changes per mode against aptly
	aptlyS2Budget     time.Duration
	s3Releases, s3Per int
	s4Count, s4XZ     int // benchmark samples: gz only, gz + xz
	s5Bytes           int64
	s6Base, s6Runs    int // packages already published; timed publishes
	s7Files           int // files of the one pkg add
	s9N               int // packages copied
}

func defaultSizes(short bool) sizes {
	if short {
		return sizes{
			s1Base: 5_000, s1Runs: 10,
			s2N: 1000, s2Window: 200, aptlyS2N: 300, aptlyS2Budget: 90 * time.Second,
			s3Releases: 10, s3Per: 10,
			s4Count: 3, s4XZ: 1,
			s5Bytes: 256 << 20,
			s6Base:  20_000, s6Runs: 5,
			s7Files: 2_500,
			s9N:     5_000,
		}
	}
	return sizes{
		s1Base: 20_000, s1Runs: 30,
		s2N: 1000, s2Window: 200, aptlyS2N: 1000, aptlyS2Budget: 10 * time.Minute,
		s3Releases: 50, s3Per: 20,
		s4Count: 5, s4XZ: 3,
		s5Bytes: 1 << 30,
		s6Base:  100_000, s6Runs: 10,
		s7Files: 10_000,
		s9N:     20_000,
	}
}

// override replaces the sizes set (non-zero) in o.
func (s sizes) override(o sizes) sizes {
	if o.s1Base > 0 {
		s.s1Base = o.s1Base
	}
	if o.s1Runs > 0 {
		s.s1Runs = o.s1Runs
	}
	if o.s2N > 0 {
		s.s2N = o.s2N
		s.s2Window = min(s.s2Window, o.s2N)
	}
	if o.aptlyS2N > 0 {
		s.aptlyS2N = o.aptlyS2N
	}
	if o.s5Bytes > 0 {
		s.s5Bytes = o.s5Bytes
	}
	if o.s6Base > 0 {
		s.s6Base = o.s6Base
	}
	if o.s6Runs > 0 {
		s.s6Runs = o.s6Runs
	}
	if o.s7Files > 0 {
		s.s7Files = o.s7Files
	}
	if o.s9N > 0 {
		s.s9N = o.s9N
	}
	return s
}
