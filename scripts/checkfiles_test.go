// Package scripts holds the repository's shell scripts; its test runs them.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckFilesRefusesBigFiles runs check-files.sh in a scratch git
// repository: a committed 2 MiB file fails it, naming the file; the same
// file under testdata/, or only on disk and not committed, passes.
func TestCheckFilesRefusesBigFiles(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile("check-files.sh")
	require.NoError(t, err)
	tests := []struct {
		name    string
		path    string
		size    int
		commit  bool
		wantErr bool
	}{
		{name: "committed binary", path: "cmd/aptqd/aptqd", size: 2 << 20, commit: true, wantErr: true},
		{name: "committed test data", path: "apt/testdata/big.deb", size: 2 << 20, commit: true},
		{name: "not committed", path: "aptqd", size: 2 << 20, commit: false},
		{name: "at the limit", path: "small.bin", size: 1 << 20, commit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			git := func(args ...string) {
				cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "git %v: %s", args, out)
			}
			git("init", "-q")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "check-files.sh"), script, 0o755))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(tt.path)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, tt.path), make([]byte, tt.size), 0o644))
			git("add", "scripts")
			if tt.commit {
				git("add", tt.path)
			}
			git("commit", "-qm", "files")

			out, err := exec.Command(filepath.Join(dir, "scripts", "check-files.sh")).CombinedOutput()
			if !tt.wantErr {
				require.NoError(t, err, "%s", out)
				return
			}
			require.Error(t, err)
			require.Contains(t, string(out), tt.path)
		})
	}
}
