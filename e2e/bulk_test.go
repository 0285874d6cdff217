package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// bulkResult is the part of pkg add --json a bulk publish is judged by.
type bulkResult struct {
	State            string `json:"state"`
	PublishedFiles   int    `json:"published_files"`
	UnpublishedFiles int    `json:"unpublished_files"`
	Changes          []struct {
		JobID      int64  `json:"job_id"`
		State      string `json:"state"`
		Generation *int64 `json:"generation"`
		Files      int    `json:"files"`
	} `json:"changes"`
	Files []struct {
		File       string `json:"file"`
		Package    string `json:"package"`
		Published  bool   `json:"published"`
		Stage      string `json:"stage"`
		Generation *int64 `json:"generation"`
		Error      *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"files"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// rounds is how many rounds published the changes: their distinct generations.
func (r bulkResult) rounds() int {
	var gens []int64
	for _, c := range r.Changes {
		if c.Generation != nil && !slices.Contains(gens, *c.Generation) {
			gens = append(gens, *c.Generation)
		}
	}
	return len(gens)
}

// writeDebs builds n small packages PREFIX-0000… (every tenth Architecture:
// all) into dir and returns their paths and package names.
func writeDebs(t *testing.T, dir, prefix string, n int) (paths, names []string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i := range n {
		arch := "amd64"
		if i%10 == 9 {
			arch = "all"
		}
		name := fmt.Sprintf("%s-%04d", prefix, i)
		paths = append(paths, writeDeb(t, dir, debtest.Options{Package: name, Version: "1.0", Architecture: arch}))
		names = append(names, name)
	}
	return paths, names
}

// pkgAdd runs pkg add --json over files and decodes its result.
func (b *bundle) pkgAdd(repo, key string, files []string, extra ...string) (bulkResult, string, int) {
	b.t.Helper()
	args := append([]string{"pkg", "add", "--repo", repo, "--release", "stable", "--key", key, "--json"}, extra...)
	out, errOut, code := b.cli(context.Background(), append(args, files...)...)
	var res bulkResult
	require.NoError(b.t, json.Unmarshal([]byte(out), &res), "stdout: %s\nstderr: %s", out, errOut)
	return res, errOut, code
}

// indexNames are the packages binary-amd64 of repo's stable/main lists.
func (b *bundle) indexNames(repo string) []string {
	b.t.Helper()
	body, status, err := getPackages(context.Background(), b.URL+"/apt/"+b.Tenant+"/"+repo+"/dists/stable/main/binary-amd64/Packages")
	require.NoError(b.t, err)
	require.Equal(b.t, 200, status)
	return packageNames(string(body))
}

func packageNames(index string) []string {
	var names []string
	for line := range strings.Lines(index) {
		if name, ok := strings.CutPrefix(line, "Package: "); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}

// TestBulkPublish: one pkg add of 2 050 files (more than two changes'
// worth) publishes every one, in few rounds, and apt-get sees them all in
// the signed index and installs one.
func TestBulkPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("bulk", "stable")
	paths, names := writeDebs(t, filepath.Join(b.dir, "dist"), "bulk", 2050)

	res, errOut, code := b.pkgAdd("bulk", key, paths, "--parallel", "8")
	require.Equal(t, 0, code, "stderr: %s", systemTail(errOut))
	require.Equal(t, 2050, res.PublishedFiles)
	require.Zero(t, res.UnpublishedFiles)
	require.Len(t, res.Changes, 3, "changes of at most 1000 adds")
	for _, f := range res.Files {
		require.True(t, f.Published, "%s", f.File)
	}
	t.Logf("2050 files: %d changes published in %d round(s)", len(res.Changes), res.rounds())
	require.LessOrEqual(t, res.rounds(), 3)

	require.ElementsMatch(t, names, b.indexNames("bulk"))

	// apt-get checks InRelease's signature and every index hash it reads.
	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/bulk", "stable", "main", string(pub))
	apt.run("update")
	known, err := apt.Cache(context.Background(), "pkgnames", "bulk-")
	require.NoError(t, err)
	require.ElementsMatch(t, names, strings.Fields(known), "apt's verified index holds every file")
	require.Contains(t, apt.run("install", "-y", "--download-only", "bulk-1234"), "bulk-1234")
}

// systemTail keeps the end of a long CLI log for a failure message.
func systemTail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// TestBulkPartialFailure: a file whose package version the repository
// holds with other content is refused with its change; the change goes in
// again without it, so every other file is published. The command exits
// non-zero naming exactly that file, and after the user fixes it, the same
// command publishes the rest: it uploads only the fixed file and adds the
// published ones again, which changes nothing.
func TestBulkPartialFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("part", "stable")
	// Published earlier from another build of part-0007 1.0.
	earlier := writeDeb(t, t.TempDir(), debtest.Options{Package: "part-0007", Version: "1.0", Architecture: "amd64",
		Description: "an earlier build"})
	b.mustCLI("pkg", "add", "--repo", "part", "--release", "stable", "--key", key, earlier)
	dist := filepath.Join(b.dir, "dist")
	paths, names := writeDebs(t, dist, "part", 1100)
	bad := paths[7]

	res, errOut, code := b.pkgAdd("part", key, paths)
	require.Equal(t, 1, code, "stderr: %s", systemTail(errOut))
	require.Equal(t, "package_conflict", res.Error.Code)
	require.Equal(t, 1099, res.PublishedFiles)
	require.Equal(t, 1, res.UnpublishedFiles)
	for _, f := range res.Files {
		if f.File == bad {
			require.False(t, f.Published)
			require.Equal(t, "submit", f.Stage)
			require.Equal(t, "package_conflict", f.Error.Code)
			continue
		}
		require.True(t, f.Published, "%s: %+v", f.File, f.Error)
	}
	require.Contains(t, errOut, "published 1099 of 1100 files")
	// Every file but the refused one is in the index, beside the earlier build.
	require.ElementsMatch(t, names, b.indexNames("part"))

	// Without --json, the summary lists both sides.
	out, _, code := b.cli(context.Background(), append([]string{"pkg", "add", "--repo", "part", "--release", "stable",
		"--key", key}, paths...)...)
	require.Equal(t, 1, code)
	require.Contains(t, out, "published (1099):\n")
	require.Contains(t, out, "not published (1):\n  "+bad+": submit: package_conflict: ")

	// The fix: a new version of the package, in the same file.
	require.NoError(t, os.WriteFile(bad, debtest.Build(t, debtest.Options{Package: "part-0007", Version: "1.1",
		Architecture: "amd64"}), 0o644))
	res, errOut, code = b.pkgAdd("part", key, paths)
	require.Equal(t, 0, code, "stderr: %s", systemTail(errOut))
	require.Equal(t, 1100, res.PublishedFiles)
	require.Equal(t, 1, strings.Count(errOut, "done: "), "only the fixed file is uploaded:\n%s", systemTail(errOut))
	require.Equal(t, 1099, strings.Count(errOut, "already on the server"))
	index := b.indexNames("part")
	require.Len(t, index, 1101, "1100 files and the earlier build, each once")
	require.ElementsMatch(t, names, slices.Compact(slices.Sorted(slices.Values(index))))
}

// TestBulkRefusedUpFront: bad files among many, or a quota the files would
// exceed, are refused before a byte is uploaded, naming every bad file or
// the quota.
func TestBulkRefusedUpFront(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("front", "stable")
	dist := filepath.Join(b.dir, "dist")
	paths, _ := writeDebs(t, dist, "front", 200)
	notDeb := filepath.Join(dist, "notes.deb")
	require.NoError(t, os.WriteFile(notDeb, []byte("release notes, not a package"), 0o644))
	wrongArch := writeDeb(t, dist, debtest.Options{Package: "mips-only", Version: "1.0", Architecture: "mips64el"})
	missing := filepath.Join(dist, "missing.deb")
	dir := filepath.Join(dist, "a-directory.deb")
	require.NoError(t, os.Mkdir(dir, 0o755))
	// The bad files hide between good ones.
	files := slices.Concat(paths[:50], []string{notDeb}, paths[50:120], []string{wrongArch, missing}, paths[120:], []string{dir})

	_, errOut, code := b.cli(context.Background(), append([]string{"pkg", "add", "--repo", "front", "--release", "stable",
		"--key", key}, files...)...)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "aptq: invalid_package: 4 of 204 files cannot be published; nothing was uploaded:")
	require.Contains(t, errOut, "\n  "+notDeb+": ")
	require.Contains(t, errOut, "\n  "+wrongArch+" is mips-only 1.0 for mips64el, but release stable has no architecture mips64el")
	require.Contains(t, errOut, "\n  "+missing+": ")
	require.Contains(t, errOut, "\n  "+dir+": ")
	require.NotContains(t, errOut, "uploading")
	require.Zero(t, b.uploads(), "refused before any upload")

	// Quotas: the tenant's upload bytes, then the repository's packages.
	b.exec(`UPDATE tenants SET max_upload_bytes = 10000 WHERE name = $1`, b.Tenant)
	_, errOut, code = b.cli(context.Background(), append([]string{"pkg", "add", "--repo", "front", "--release", "stable",
		"--key", key}, paths...)...)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "aptq: quota_exceeded: the 200 files the server does not have yet are ")
	require.Contains(t, errOut, "but the upload_bytes quota has 9.8 KiB left")
	require.Zero(t, b.uploads())

	b.exec(`UPDATE tenants SET max_upload_bytes = DEFAULT WHERE name = $1`, b.Tenant)
	b.exec(`UPDATE repositories SET max_packages = 150 WHERE name = 'front'`)
	_, errOut, code = b.cli(context.Background(), append([]string{"pkg", "add", "--repo", "front", "--release", "stable",
		"--key", key}, paths...)...)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "aptq: quota_exceeded: these files add 200 package versions that repository front does "+
		"not hold yet, but its packages_per_repository quota has 150 left (0 of 150 used); nothing was uploaded")
	require.Zero(t, b.uploads())
}

// uploads counts the packages the server accepted.
func (b *bundle) uploads() int {
	b.t.Helper()
	var n int
	b.query(func(conn *pgx.Conn) error {
		return conn.QueryRow(context.Background(), `SELECT count(*) FROM packages`).Scan(&n)
	})
	return n
}

// exec runs one SQL statement on the server's database, as an operator would.
func (b *bundle) exec(sql string, args ...any) {
	b.t.Helper()
	b.query(func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), sql, args...)
		return err
	})
}

func (b *bundle) query(fn func(*pgx.Conn) error) {
	b.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	require.NoError(b.t, err)
	defer conn.Close(ctx)
	require.NoError(b.t, fn(conn))
}
