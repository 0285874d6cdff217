package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
)

// TestAptFileFindsPackages: a release created with the CLI's defaults
// publishes Contents indices; the real apt-file (apt's Contents-deb index
// target) finds the published package by a file it holds, an arch all
// package too, and no longer finds a removed one.
func TestAptFileFindsPackages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("cts", "stable")
	hello := writeDeb(t, b.dir, debtest.Options{Package: "hello", Version: "2.10-3", Architecture: "amd64",
		Files: []string{"./usr/bin/hello", "./usr/share/man/man1/hello.1.gz"}})
	data := writeDeb(t, b.dir, debtest.Options{Package: "hello-data", Version: "2.10-3", Architecture: "all",
		Files: []string{"./usr/share/hello/greeting.txt"}})
	b.mustCLI("pkg", "add", "--repo", "cts", "--release", "stable", "--key", key, hello, data)

	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/cts", "stable", "main", string(pub))
	ctx := context.Background()
	out, err := apt.AptFile(ctx, "update")
	require.NoError(t, err, out)
	out, err = apt.AptFile(ctx, "search", "/usr/bin/hello")
	require.NoError(t, err, out)
	require.Equal(t, "hello: /usr/bin/hello\n", out)
	out, err = apt.AptFile(ctx, "list", "hello-data")
	require.NoError(t, err, out)
	require.Contains(t, out, "hello-data: /usr/share/hello/greeting.txt\n")
	require.Contains(t, b.mustCLI("pkg", "show", "--repo", "cts", "--release", "stable", "hello"), "\nAptq-File-Count: 3\n")
	require.Contains(t, b.mustCLI("release", "show", "--repo", "cts", "--release", "stable"), "contents:      Contents-<arch>.gz")

	b.mustCLI("pkg", "remove", "--repo", "cts", "--release", "stable", "--key", key, "hello=2.10-3:amd64")
	out, err = apt.AptFile(ctx, "update")
	require.NoError(t, err, out)
	out, err = apt.AptFile(ctx, "search", "/usr/bin/hello")
	require.Error(t, err, "apt-file exits 1 when nothing matches")
	require.Empty(t, strings.TrimSpace(out))
	out, err = apt.AptFile(ctx, "search", "greeting.txt")
	require.NoError(t, err, out)
	require.Equal(t, "hello-data: /usr/share/hello/greeting.txt\n", out)
}

// TestAttackSignerContentsFileList: the stored file list of the package
// the CLI uploads is rewritten in Postgres before the round is cut, so the
// worker lists an extra path for it (and the round view says so); the CLI
// reads its own .deb's file list and refuses: exit 1, nothing published,
// and the public Contents does not name the path.
func TestAttackSignerContentsFileList(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	release := a.holdLease(t)
	good := writeDeb(t, a.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64",
		Files: []string{"./usr/bin/good"}})
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := a.cli(ctx, "pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key, good)
		done <- result{out, errOut, code}
	}()
	a.waitPending(t, 1)
	evil := apt.EncodeFileList([]string{"usr/bin/good", "usr/bin/sudo", "usr/share/doc/good/README"})
	tag, err := a.conn.Exec(ctx, `UPDATE packages SET file_list = $1, file_count = 3 WHERE name = 'good'`, evil)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
	release()
	r := <-done
	require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	require.Contains(t, r.errOut, "unverified_round: refusing to sign round")
	require.Contains(t, r.errOut, "adds good 1.0 amd64 with a file list other than the one its .deb holds")
	gen, packages := a.published(t)
	require.Equal(t, int64(1), gen)
	require.NotContains(t, packages, "Package: good")
	require.Equal(t, "usr/share/doc/base/README\tmisc/base\n",
		gunzipURL(t, a.URL+"/apt/"+a.Tenant+"/atk/dists/stable/main/Contents-amd64.gz"))
}

// TestContentsTurnedOn: a release created with --contents=false publishes
// no Contents; "aptq release update --contents" turns them on in a signed
// round (the signer accepts the new indices as the listed update says),
// after which apt-file finds the packages published before; an
// architecture added later gets a Contents of its Architecture: all
// packages.
func TestContentsTurnedOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("late")
	b.mustCLI("release", "create", "--repo", "late", "--release", "stable", "--contents=false")
	hello := writeDeb(t, b.dir, debtest.Options{Package: "hello", Version: "1.0", Architecture: "amd64",
		Files: []string{"./usr/bin/hello"}})
	b.mustCLI("pkg", "add", "--repo", "late", "--release", "stable", "--key", key, hello)
	base := b.URL + "/apt/" + b.Tenant + "/late/dists/stable/"
	inRelease, _, err := get(context.Background(), base+"InRelease")
	require.NoError(t, err)
	require.NotContains(t, string(inRelease), "Contents-")

	out := b.mustCLI("release", "update", "--repo", "late", "--release", "stable", "--key", key, "--contents")
	require.Contains(t, out, "generation 2")
	require.Equal(t, "usr/bin/hello\tmisc/hello\nusr/share/doc/hello/README\tmisc/hello\n",
		gunzipURL(t, base+"main/Contents-amd64.gz"))
	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/late", "stable", "main", string(pub))
	ctx := context.Background()
	out, err = apt.AptFile(ctx, "update")
	require.NoError(t, err, out)
	out, err = apt.AptFile(ctx, "search", "/usr/bin/hello")
	require.NoError(t, err, out)
	require.Equal(t, "hello: /usr/bin/hello\n", out)

	// A new architecture's Contents lists the Architecture: all packages,
	// which the signer accepts from the component's previous Contents.
	data := writeDeb(t, b.dir, debtest.Options{Package: "hello-data", Version: "1.0", Architecture: "all",
		Files: []string{"./usr/share/hello/data"}})
	b.mustCLI("pkg", "add", "--repo", "late", "--release", "stable", "--key", key, data)
	b.mustCLI("release", "update", "--repo", "late", "--release", "stable", "--key", key, "--add-architectures", "arm64")
	require.Equal(t, "usr/share/doc/hello-data/README\tmisc/hello-data\nusr/share/hello/data\tmisc/hello-data\n",
		gunzipURL(t, base+"main/Contents-arm64.gz"))
}
