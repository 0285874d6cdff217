package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// TestPublishAndInstall is the user's path: keys, repository, release,
// publishing a dependency chain through the CLI, then a real apt-get update
// and install of the top package from what aptq published.
func TestPublishAndInstall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("main", "stable")

	debs := []string{
		writeDeb(t, b.dir, debtest.Options{Package: "e2e-data", Version: "1.0", Architecture: "all"}),
		writeDeb(t, b.dir, debtest.Options{Package: "libe2e1", Version: "1:2.0+git1-1", Architecture: "amd64",
			Source: "e2e-lib (1:2.0+git1-1)", Depends: "e2e-data (>= 1.0)"}),
		writeDeb(t, b.dir, debtest.Options{Package: "e2e-app", Version: "3.1-1", Architecture: "amd64",
			Depends: "libe2e1 (>= 1:2.0)"}),
	}
	out := b.mustCLI(append([]string{"pkg", "add", "--repo", "main", "--release", "stable", "--key", key}, debs...)...)
	require.Contains(t, out, "published generation 1")

	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/main", "stable", "main", string(pub))
	apt.run("update")
	got := apt.run("install", "-y", "--download-only", "e2e-app")
	require.Contains(t, got, "e2e-app")
	entries, err := os.ReadDir(filepath.Join(apt.Dir, "archives"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".deb") {
			names = append(names, e.Name())
		}
	}
	require.ElementsMatch(t, []string{"e2e-app_3.1-1_amd64.deb", "libe2e1_1%3a2.0+git1-1_amd64.deb", "e2e-data_1.0_all.deb"}, names)

	// A second publish removes the app: generation 2, and apt no longer sees it.
	b.mustCLI("pkg", "remove", "--repo", "main", "--release", "stable", "--key", key, "e2e-app=3.1-1:amd64")
	apt.run("update")
	out = apt.run("install", "-y", "--download-only", "libe2e1")
	require.Contains(t, out, "libe2e1")
}
