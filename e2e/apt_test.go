package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// aptClient is a real apt-get with a throwaway configuration: its own
// sources.list, lists, cache and an empty dpkg status, for one architecture.
type aptClient struct {
	t    *testing.T
	dir  string
	opts []string
}

func newAptClient(t *testing.T, url, release, component, pubKeyArmored string) *aptClient {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatal("apt-get is needed for end-to-end tests")
	}
	dir := t.TempDir()
	for _, d := range []string{"lists/partial", "archives/partial", "etc"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "status"), nil, 0o644))
	keyring := filepath.Join(dir, "repo.asc")
	require.NoError(t, os.WriteFile(keyring, []byte(pubKeyArmored), 0o644))
	sources := "deb [signed-by=" + keyring + "] " + url + " " + release + " " + component + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc/sources.list"), []byte(sources), 0o644))
	c := &aptClient{t: t, dir: dir}
	c.opts = []string{
		"-o", "Dir::State=" + dir, "-o", "Dir::State::Lists=" + dir + "/lists",
		"-o", "Dir::State::status=" + dir + "/status", "-o", "Dir::Cache=" + dir,
		"-o", "Dir::Cache::archives=" + dir + "/archives",
		"-o", "Dir::Etc::SourceList=" + dir + "/etc/sources.list",
		"-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::Etc::Parts=/dev/null",
		"-o", "Dir::Etc::Preferences=/dev/null", "-o", "Dir::Etc::PreferencesParts=/dev/null",
		"-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64",
		"-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1", "-o", "Acquire::Languages=none",
		"-o", "Acquire::Retries=0",
	}
	return c
}

// run runs apt-get and fails the test on a non-zero exit or on any warning
// or error line (a hash mismatch or a bad signature is only a "W:" to apt).
func (c *aptClient) run(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("apt-get", append(c.opts, args...)...).CombinedOutput()
	require.NoError(c.t, err, "apt-get %v:\n%s", args, out)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "E:") {
			c.t.Fatalf("apt-get %v printed %q:\n%s", args, line, out)
		}
	}
	return string(out)
}

// writeDeb builds a .deb into dir and returns its path.
func writeDeb(t *testing.T, dir string, o debtest.Options) string {
	t.Helper()
	path := filepath.Join(dir, o.Package+"_"+strings.ReplaceAll(o.Version, ":", "%3a")+"_"+o.Architecture+".deb")
	require.NoError(t, os.WriteFile(path, debtest.Build(t, o), 0o644))
	return path
}
