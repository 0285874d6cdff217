package systest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// aptFileConf is where Debian's apt-file package declares the Contents
// index targets (Acquire::IndexTargets::deb::Contents-deb) that apt fetches.
const aptFileConf = "/etc/apt/apt.conf.d/50apt-file.conf"

// AptFile runs apt-file with args on the same state as Run, with apt-file's
// index targets enabled (Run reads no apt.conf.d), and returns its output.
func (a *Apt) AptFile(ctx context.Context, args ...string) (string, error) {
	if _, err := exec.LookPath("apt-file"); err != nil {
		return "", fmt.Errorf("apt-file is needed: %w", err)
	}
	conf, err := os.ReadFile(aptFileConf)
	if err != nil {
		return "", fmt.Errorf("apt-file's index targets: %w", err)
	}
	file := filepath.Join(a.Dir, "etc", filepath.Base(aptFileConf))
	if err := os.WriteFile(file, conf, 0o644); err != nil {
		return "", err
	}
	opts := append([]string{"-c", file}, a.opts...)
	out, err := exec.CommandContext(ctx, "apt-file", append(opts, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("apt-file %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "E:") {
			return string(out), fmt.Errorf("apt-file %s printed %q:\n%s", strings.Join(args, " "), strings.TrimSpace(line), out)
		}
	}
	return string(out), nil
}
