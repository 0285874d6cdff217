package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// publishedKeys returns the stanza keys aptq serves for repo r's
// bookworm/main/binary-arch, or nil when it publishes no index yet.
func publishedKeys(t *testing.T, b *bundle, arch string) []string {
	t.Helper()
	got, status, err := getPackages(context.Background(), b.URL+"/apt/"+b.Tenant+"/r/dists/bookworm/main/binary-"+arch+"/Packages")
	require.NoError(t, err)
	if status == 404 {
		return nil
	}
	require.Equal(t, 200, status)
	return stanzaKeys(t, got)
}

// editPackages rewrites every variant of binary-arch's Packages with edit
// applied to the plain text.
func editPackages(t *testing.T, root, arch string, edit func(string) string) {
	t.Helper()
	dir := filepath.Join(root, "dists", "bookworm", "main", "binary-"+arch)
	plain, err := os.ReadFile(filepath.Join(dir, "Packages"))
	require.NoError(t, err)
	edited := edit(string(plain))
	require.NotEqual(t, string(plain), edited)
	writePackages(t, dir, []byte(edited))
}

// TestImportRefusesOtherKey: a source signed by a key that is not in
// --keyring is refused before any index or pool file is downloaded, with
// InRelease (aptly) and with Release.gpg (apt-ftparchive).
func TestImportRefusesOtherKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, signed string
		build        func(*testing.T, *srcGPG) string
	}{
		{"aptly", "dists/bookworm/InRelease", aptlyRepo},
		{"apt-ftparchive", "dists/bookworm/Release", ftparchiveRepo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			signer, other := newSrcGPG(t), newSrcGPG(t)
			src := serveSource(t, tc.build(t, signer))
			b := setup(t)
			keyFile := b.repoWithKey("r", "bookworm")
			out, errOut, code := b.importInto(context.Background(), "r", keyFile, src.URL, "--keyring", other.pub)
			require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
			require.Contains(t, errOut, "aptq: source: "+tc.signed+": verify")
			require.Contains(t, errOut, "not signed by a registered key")
			require.Empty(t, src.requested("/dists/bookworm/main/"), "an index was downloaded")
			require.Empty(t, src.requested("/pool/"), "a pool file was downloaded")
			require.Nil(t, publishedKeys(t, b, "amd64"))
		})
	}
}

// TestImportRefusesTamperedIndex: a Packages index that differs from what
// the signed Release says is refused, naming it, before any pool file is
// downloaded.
func TestImportRefusesTamperedIndex(t *testing.T) {
	t.Parallel()
	g := newSrcGPG(t)
	root := ftparchiveRepo(t, g)
	editPackages(t, root, "amd64", func(s string) string {
		return strings.Replace(s, "Package: hello-data", "Package: hello-evil", 1)
	})
	src := serveSource(t, root)
	b := setup(t)
	keyFile := b.repoWithKey("r", "bookworm")
	out, errOut, code := b.importInto(context.Background(), "r", keyFile, src.URL, "--keyring", g.pub)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "aptq: source: integrity check failed: dists/bookworm/main/binary-amd64/Packages.xz: ")
	require.Contains(t, errOut, "the Release says")
	require.Empty(t, src.requested("/pool/"))
	require.Nil(t, publishedKeys(t, b, "amd64"))
}

// TestImportRefusesPathEscape: an index signed by the trusted key whose
// Filename climbs out of the repository is refused, naming the package;
// nothing outside the repository is asked for and nothing is published.
func TestImportRefusesPathEscape(t *testing.T) {
	t.Parallel()
	g := newSrcGPG(t)
	root := ftparchiveRepo(t, g)
	editPackages(t, root, "amd64", func(s string) string {
		return strings.Replace(s, "Filename: pool/main/hello-data_", "Filename: pool/../../hello-data_", 1)
	})
	signFTPArchive(t, g, root) // a hostile but authentic source
	src := serveSource(t, root)
	b := setup(t)
	keyFile := b.repoWithKey("r", "bookworm")
	out, errOut, code := b.importInto(context.Background(), "r", keyFile, src.URL, "--keyring", g.pub)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "package hello-data: Filename: path \"pool/../../hello-data_")
	require.Empty(t, src.requested("/pool/"))
	require.Empty(t, src.requested("/hello-data"))
	require.Nil(t, publishedKeys(t, b, "amd64"))
}

// TestImportRefusesWrongPoolFile: a pool file whose content differs from
// its index fails, naming it; its content is not on the server and it is
// in no index, while the other packages are published.
func TestImportRefusesWrongPoolFile(t *testing.T) {
	t.Parallel()
	g := newSrcGPG(t)
	root := ftparchiveRepo(t, g)
	bad := filepath.Join(root, "pool", "main", "tool_0.9-1_arm64.deb")
	good, err := os.ReadFile(bad)
	require.NoError(t, err)
	evil := append([]byte(nil), good...)
	evil[len(evil)-1] ^= 0xff // same size, other content
	require.NoError(t, os.WriteFile(bad, evil, 0o644))
	src := serveSource(t, root)
	b := setup(t)
	keyFile := b.repoWithKey("r", "bookworm")
	out, errOut, code := b.importInto(context.Background(), "r", keyFile, src.URL, "--keyring", g.pub)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "pool/main/tool_0.9-1_arm64.deb has SHA256 "+hexSHA256(evil)+", its index says "+hexSHA256(good))
	require.Equal(t, 404, headPackage(t, b, hexSHA256(evil)))
	require.Equal(t, 404, headPackage(t, b, hexSHA256(good)))
	for _, arch := range []string{"amd64", "arm64"} {
		require.NotContains(t, strings.Join(publishedKeys(t, b, arch), "\n"), "tool ")
	}
	require.Contains(t, strings.Join(publishedKeys(t, b, "amd64"), "\n"), "hello 1:2.0-1 amd64")
}

// TestImportResumes: a source that breaks down after two pool files fails
// the import, which says what it published; a rerun completes it, and no
// file is uploaded or downloaded twice.
func TestImportResumes(t *testing.T) {
	t.Parallel()
	g := newSrcGPG(t)
	root := ftparchiveRepo(t, g)
	src := serveSource(t, root)
	src.failAfter = 2
	b := setup(t)
	keyFile := b.repoWithKey("r", "bookworm")
	ctx := context.Background()
	out, errOut, code := b.importInto(ctx, "r", keyFile, src.URL, "--keyring", g.pub)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "published 2 of 4 files, 2 not")
	require.Contains(t, errOut, "500 Internal Server Error")
	first := len(publishedKeys(t, b, "amd64")) + len(publishedKeys(t, b, "arm64"))
	require.Positive(t, first)

	src.mu.Lock()
	src.failAfter = 0
	src.mu.Unlock()
	out, errOut, code = b.importInto(ctx, "r", keyFile, src.URL, "--keyring", g.pub)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "importing 2 packages (2 already published)")
	for _, arch := range []string{"amd64", "arm64"} {
		want, err := os.ReadFile(filepath.Join(root, "dists/bookworm/main/binary-"+arch+"/Packages"))
		require.NoError(t, err)
		require.Equal(t, stanzaKeys(t, want), publishedKeys(t, b, arch))
	}
	require.Equal(t, 4, packagePuts(t, b), "uploads across both runs")
	fetched := map[string]int{}
	for _, p := range src.requested("/pool/") {
		fetched[p]++
	}
	require.Len(t, fetched, 4)
	for p, n := range fetched {
		// The two that failed were asked for once in each run.
		require.LessOrEqual(t, n, 2, p)
	}
	require.Len(t, src.requested("/pool/"), 6)
}

// packagePuts sums the server's PUT /v1/packages requests, any status.
func packagePuts(t *testing.T, b *bundle) int {
	t.Helper()
	body, _, err := get(context.Background(), b.URL+"/metrics")
	require.NoError(t, err)
	total := 0
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, `aptq_http_requests_total{method="PUT",route="/v1/packages/:sha256"`) {
			n, err := strconv.Atoi(strings.TrimSpace(line[strings.LastIndexByte(line, ' '):]))
			require.NoError(t, err, line)
			total += n
		}
	}
	return total
}

// TestImportRefusesMissingTarget: import creates nothing; a release, a
// component or an architecture the target lacks is an error before any
// index or pool file is downloaded. Without --keyring a warning says that
// nothing was authenticated.
func TestImportRefusesMissingTarget(t *testing.T) {
	t.Parallel()
	g := newSrcGPG(t)
	src := serveSource(t, ftparchiveRepo(t, g))
	b := setup(t)
	keyFile := b.repoWithKey("r", "bookworm")
	b.mustCLI("release", "create", "--repo", "r", "--release", "amd64only", "--architectures", "amd64")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no release", []string{"import", "--release", "nosuch", "--dist", "bookworm"}, "aptq: not_found: "},
		{"no component", []string{"import", "--release", "bookworm", "--dist", "bookworm", "--component", "contrib"},
			`aptq: invalid: release bookworm has no component "contrib" (it has main)`},
		{"no architecture", []string{"import", "--release", "bookworm", "--dist", "bookworm", "--arch", "riscv64"},
			`aptq: invalid: release bookworm has no architecture "riscv64" (it has amd64, arm64)`},
		{"source has more", []string{"import", "--release", "amd64only", "--dist", "bookworm"},
			`aptq: invalid: release amd64only has no architecture "arm64" (it has amd64); the source has components main and architectures amd64, arm64: choose with --component and --arch`},
	} {
		out, errOut, code := b.cli(ctx, append(tc.args, "--repo", "r", "--from", src.URL, "--key", keyFile, "--keyring", g.pub)...)
		require.Equal(t, 1, code, "%s\nstdout: %s\nstderr: %s", tc.name, out, errOut)
		require.Contains(t, errOut, tc.want, tc.name)
	}
	require.Empty(t, src.requested("/dists/bookworm/main/"), "an index was downloaded")
	require.Empty(t, src.requested("/pool/"), "a pool file was downloaded")

	out, errOut, code := b.cli(ctx, "import", "--repo", "r", "--release", "amd64only", "--from", src.URL, "--dist", "bookworm",
		"--arch", "amd64", "--key", keyFile)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "WARNING: no --keyring: nothing read from "+src.URL+" is authenticated")
	require.NotContains(t, errOut, "Release: signed by")
}
