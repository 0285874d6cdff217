package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	aptpkg "github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
)

// TestSourcePackages is the deb-src user's path: a source package built
// by dpkg-source at test time, published with pkg add FILE.dsc beside its
// build dependency, then a real apt-get source downloads files
// byte-identical to those uploaded, and apt-get build-dep resolves against
// the repository's binaries. A second revision shares the orig tarball;
// the first is then removed as NAME=VERSION:source. pkg show prints a
// source's stanza as apt-cache showsrc does.
func TestSourcePackages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("src", "stable")
	srcDir := filepath.Join(b.dir, "src")
	require.NoError(t, os.MkdirAll(srcDir, 0o755))
	dsc := debtest.BuildSource(t, srcDir, debtest.SourceOptions{Source: "hello", Upstream: "1.0", Revision: "1",
		BuildDepends: "hello-tool (>= 2.0)"})
	debs := []string{
		writeDeb(t, b.dir, debtest.Options{Package: "hello-tool", Version: "2.0", Architecture: "all"}),
		// apt-get build-dep also wants build-essential.
		writeDeb(t, b.dir, debtest.Options{Package: "build-essential", Version: "12.9", Architecture: "all"}),
	}
	out := b.mustCLI(append([]string{"pkg", "add", "--repo", "src", "--release", "stable", "--key", key, dsc}, debs...)...)
	require.Contains(t, out, "published generation 1")

	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/src", "stable", "main", string(pub))
	sourcesList := filepath.Join(apt.Dir, "etc", "sources.list")
	deb, err := os.ReadFile(sourcesList)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sourcesList, append(deb, bytes.Replace(deb, []byte("deb "), []byte("deb-src "), 1)...), 0o644))
	apt.run("update")

	download := t.TempDir()
	got, err := apt.RunIn(context.Background(), download, "source", "--download-only", "hello")
	require.NoError(t, err, got)
	for _, name := range []string{"hello_1.0-1.dsc", "hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"} {
		want, err := os.ReadFile(filepath.Join(srcDir, name))
		require.NoError(t, err)
		have, err := os.ReadFile(filepath.Join(download, name))
		require.NoError(t, err, "apt-get source fetched %s", name)
		require.Equal(t, want, have, "%s is byte-identical to the upload", name)
	}
	deps := apt.run("-s", "build-dep", "hello")
	require.Contains(t, deps, "Inst hello-tool (2.0", "build-dep resolves hello-tool from the repository")

	// pkg show prints the source's stanza as apt-cache showsrc does.
	showsrc, err := apt.Cache(context.Background(), "showsrc", "hello")
	require.NoError(t, err)
	want, err := aptpkg.ParseParagraph([]byte(showsrc))
	require.NoError(t, err)
	shown, err := aptpkg.ParseParagraph([]byte(b.mustCLI("pkg", "show", "--repo", "src", "--release", "stable", "--arch", "source", "hello")))
	require.NoError(t, err)
	require.ElementsMatch(t, want, shown)
	require.Equal(t, "pool/main/h/hello", shown.Get("Directory"))

	// A second revision shares the orig tarball; the first is removed.
	dsc2 := debtest.BuildSource(t, srcDir, debtest.SourceOptions{Source: "hello", Upstream: "1.0", Revision: "2"})
	b.mustCLI("pkg", "add", "--repo", "src", "--release", "stable", "--key", key, dsc2)
	b.mustCLI("pkg", "remove", "--repo", "src", "--release", "stable", "--key", key, "hello=1.0-1:source")
	apt.run("update")
	showsrc, err = apt.Cache(context.Background(), "showsrc", "hello")
	require.NoError(t, err)
	require.Contains(t, showsrc, "Version: 1.0-2")
	require.NotContains(t, showsrc, "Version: 1.0-1")
	download = t.TempDir()
	got, err = apt.RunIn(context.Background(), download, "source", "--download-only", "hello")
	require.NoError(t, err, got)
	for _, name := range []string{"hello_1.0-2.dsc", "hello_1.0.orig.tar.gz", "hello_1.0-2.debian.tar.xz"} {
		_, err := os.Stat(filepath.Join(download, name))
		require.NoError(t, err)
	}
	list := b.mustCLI("pkg", "list", "--repo", "src", "--release", "stable")
	require.Contains(t, list, "1.0-2")
	require.NotContains(t, list, "1.0-1")
}

// TestSourceCopyAndPrune: the lifecycle commands take source packages
// (NAME=VERSION:source): a revision copied from staging to stable lands in
// stable's Sources with its files, and pruning staging to one version drops
// the older revision's stanza.
func TestSourceCopyAndPrune(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("srclife", "staging", "stable")
	srcDir := filepath.Join(b.dir, "src")
	require.NoError(t, os.MkdirAll(srcDir, 0o755))
	for _, rev := range []string{"1", "2"} {
		dsc := debtest.BuildSource(t, srcDir, debtest.SourceOptions{Source: "hello", Upstream: "1.0", Revision: rev})
		b.mustCLI("pkg", "add", "--repo", "srclife", "--release", "staging", "--key", key, dsc)
	}
	url := b.URL + "/apt/" + b.Tenant + "/srclife/dists/"
	staging := gunzipURL(t, url+"staging/main/source/Sources.gz")
	require.Contains(t, staging, "Version: 1.0-1")
	require.Contains(t, staging, "Version: 1.0-2")

	b.mustCLI("pkg", "copy", "--repo", "srclife", "--from", "staging", "--release", "stable", "--key", key, "hello=1.0-2:source")
	stable := gunzipURL(t, url+"stable/main/source/Sources.gz")
	require.Contains(t, stable, "Package: hello\n")
	require.Contains(t, stable, "Version: 1.0-2")
	require.NotContains(t, stable, "Version: 1.0-1")
	require.Contains(t, stable, "hello_1.0.orig.tar.gz", "the copy lists the shared orig tarball")

	b.mustCLI("pkg", "prune", "--repo", "srclife", "--release", "staging", "--keep", "1", "--key", key)
	staging = gunzipURL(t, url+"staging/main/source/Sources.gz")
	require.Contains(t, staging, "Version: 1.0-2")
	require.NotContains(t, staging, "Version: 1.0-1", "prune keeps the newest source revision only")
}
