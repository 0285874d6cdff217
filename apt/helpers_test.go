package apt

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// member is one ar member of a hand-made archive.
type member struct {
	name string
	data []byte
}

// arFile builds an ar archive from members, for malformed packages that
// debtest cannot express.
func arFile(members ...member) []byte {
	b := []byte("!<arch>\n")
	for _, m := range members {
		b = fmt.Appendf(b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		b = append(b, m.data...)
		if len(m.data)%2 == 1 {
			b = append(b, '\n')
		}
	}
	return b
}

// tarFile builds a tar archive of regular files, given as name, content
// pairs.
func tarFile(t testing.TB, nameContent ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(nameContent); i += 2 {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: nameContent[i], Mode: 0o644, Size: int64(len(nameContent[i+1]))}))
		_, err := tw.Write([]byte(nameContent[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// needTool returns the path of a command-line tool the test drives, and
// skips the test when it is not installed (see README: the CI installs
// apt-utils, dpkg-dev, gnupg).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// run runs a command and fails the test, showing its output, if it fails.
func run(t testing.TB, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v\nstdout:\n%s\nstderr:\n%s", name, args, out, stderr.String())
	return out
}

// writeFile writes data to dir/rel, creating directories.
func writeFile(t testing.TB, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
}

// runCombined is run returning stdout and stderr interleaved, as a user
// would see them.
func runCombined(t testing.TB, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v\n%s", name, args, out)
	return out
}

// runQuiet runs a command for its side effect, ignoring its output.
func runQuiet(env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.Run()
}
