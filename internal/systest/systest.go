// Package systest holds what the tests that run aptq's real binaries (the
// end-to-end tests and the chaos harness) share: building the binaries and
// a real apt-get pointed at one repository.
package systest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Main is the TestMain of a package that runs the binaries: it builds them
// into a temporary directory, sets *binDir to it, runs the tests, removes
// the directory and returns the exit code.
func Main(m *testing.M, race bool, binDir *string) int {
	dir, err := os.MkdirTemp("", "aptq-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := Build(dir, race); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	*binDir = dir
	return m.Run()
}

// Build builds aptqd (with the race detector if race) and aptq into dir.
func Build(dir string, race bool) error {
	serverArgs := []string{"build", "-o", dir + "/"}
	if race {
		serverArgs = append(serverArgs, "-race")
	}
	for _, args := range [][]string{
		append(serverArgs, "github.com/aptq/aptq/cmd/aptqd"),
		// The CLI runs hundreds of times at once: never with the race detector.
		{"build", "-o", dir + "/", "github.com/aptq/aptq/cmd/aptq"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// Apt is a real apt-get with a throwaway configuration under Dir: its own
// sources.list, lists, cache and an empty dpkg status, for amd64, and none
// of the host's sources or settings.
type Apt struct {
	Dir  string
	opts []string
}

// NewApt prepares dir for apt-get to read one repository: the
// sources.list line for url, release and component, trusting
// pubKeyArmored only.
func NewApt(dir, url, release, component, pubKeyArmored string) (*Apt, error) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return nil, fmt.Errorf("apt-get is needed: %w", err)
	}
	for _, d := range []string{"lists/partial", "archives/partial", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	keyring := filepath.Join(dir, "repo.asc")
	sources := "deb [signed-by=" + keyring + "] " + url + " " + release + " " + component + "\n"
	for name, content := range map[string]string{
		"status": "", "repo.asc": pubKeyArmored, "etc/sources.list": sources,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	return &Apt{Dir: dir, opts: []string{
		"-o", "Dir::State=" + dir, "-o", "Dir::State::Lists=" + dir + "/lists",
		"-o", "Dir::State::status=" + dir + "/status", "-o", "Dir::Cache=" + dir,
		"-o", "Dir::Cache::archives=" + dir + "/archives",
		"-o", "Dir::Etc::SourceList=" + dir + "/etc/sources.list",
		"-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::Etc::Parts=/dev/null",
		"-o", "Dir::Etc::Preferences=/dev/null", "-o", "Dir::Etc::PreferencesParts=/dev/null",
		"-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64",
		"-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1", "-o", "Acquire::Languages=none",
		"-o", "Acquire::Retries=0",
	}}, nil
}

// Run runs apt-get with args and returns its output. A non-zero exit is an
// error, and so is any warning or error line: a hash mismatch or a bad
// signature is only a "W:" to apt, which may still exit 0.
func (a *Apt) Run(ctx context.Context, args ...string) (string, error) {
	return a.RunIn(ctx, "", args...)
}

// RunIn is Run in directory dir ("" for the current one), where apt-get
// source downloads.
func (a *Apt) RunIn(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", append(a.opts, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "E:") {
			return string(out), fmt.Errorf("apt-get %s printed %q:\n%s", strings.Join(args, " "), strings.TrimSpace(line), out)
		}
	}
	return string(out), nil
}

// Cache runs apt-cache with args on the same state as Run (e.g. pkgnames:
// what apt knows from the indexes it verified; policy) and returns its
// standard output.
func (a *Apt) Cache(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", append(a.opts, args...)...).Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return string(out), fmt.Errorf("apt-cache %s: %w\n%s", strings.Join(args, " "), err, ee.Stderr)
	} else if err != nil {
		return string(out), fmt.Errorf("apt-cache %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// RandomHex returns n random bytes in hex, for unique names.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Tail is the last n bytes of s, marked as cut when they are not all of it.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// WaitReady polls url's /readyz until it answers 200 or timeout passes: a
// starting server has nothing to subscribe to.
func WaitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
