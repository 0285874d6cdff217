package apt

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/stretchr/testify/require"
)

// TestAptGetAcceptsRepository publishes a signed repository laid out as
// aptq lays it out in S3 (pool/, dists/ with by-hash copies, InRelease and
// Release.gpg), serves it over HTTP and has apt-get update, show and
// download from it with a throwaway configuration.
func TestAptGetAcceptsRepository(t *testing.T) {
	t.Parallel()
	aptGet := needTool(t, "apt-get")
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")

	// main has packages (one arch-specific per arch, one "all"); contrib
	// is empty, to prove empty indexes are accepted.
	var pkgs []Package
	for _, o := range []debtest.Options{
		{Package: "hello", Version: "1.0-1", Description: "old hello"},
		{Package: "hello", Version: "1:2.0-1", Description: "new hello\nwith an epoch"},
		{Package: "hello-data", Version: "2.0+dfsg-1", Architecture: "all", Source: "hello", Compression: "xz"},
		{Package: "libfoo1", Version: "1.2~rc1-1", Source: "foo", Compression: "zst"},
		{Package: "tool", Version: "1.0-1", Architecture: "arm64"},
	} {
		deb := debtest.Build(t, o)
		p := repoPackage(t, "main", deb)
		writeFile(t, repo, p.Filename, deb)
		pkgs = append(pkgs, p)
	}
	archs, components := []string{"amd64", "arm64"}, []string{"main", "contrib"}
	var files []IndexFile
	for _, component := range components {
		var own []Package
		if component == "main" {
			own = pkgs
		}
		byArch := SplitByArch(own, archs)
		for _, arch := range archs {
			generated, err := GenerateIndexes(component, arch, byArch[arch], []Compression{Gzip, XZ})
			require.NoError(t, err)
			files = append(files, generated...)
		}
	}
	srv := serveRepo(t, tmp, repo, archs, components, files)
	apt := newAptConfig(t, filepath.Join(tmp, "apt"),
		"deb [signed-by="+srv.pubKey+"] "+srv.URL+"/ stable main contrib")
	out := apt.run(t, aptGet, "update")
	requireNoWarnings(t, out)
	got := srv.requested()
	require.Contains(t, got, "/dists/stable/InRelease")
	require.True(t, slices.ContainsFunc(got, func(p string) bool {
		return strings.HasPrefix(p, "/dists/stable/main/binary-amd64/by-hash/SHA256/")
	}), "apt fetched the index by hash: %v", got)

	policy := apt.run(t, "apt-cache", "policy", "hello")
	require.Contains(t, policy, "Candidate: 1:2.0-1")
	show := apt.run(t, "apt-cache", "show", "hello-data")
	require.Contains(t, show, "Filename: pool/main/h/hello/hello-data_2.0+dfsg-1_all.deb")

	out = apt.run(t, aptGet, "install", "--download-only", "-y", "hello", "hello-data", "libfoo1")
	requireNoWarnings(t, out)
	for _, name := range []string{"hello_1%3a2.0-1_amd64.deb", "hello-data_2.0+dfsg-1_all.deb", "libfoo1_1.2~rc1-1_amd64.deb"} {
		require.FileExists(t, filepath.Join(apt.dir, "var/cache/apt/archives", name))
	}

	// Installing for real needs root (dpkg chowns files to root); it runs
	// dpkg with --root inside the temporary directory.
	if os.Geteuid() != 0 {
		t.Log("not root: skipping the real installation")
		return
	}
	out = apt.run(t, aptGet, "install", "-y", "hello", "hello-data", "libfoo1")
	requireNoWarnings(t, out)
	require.FileExists(t, filepath.Join(apt.root, "usr/share/doc/hello-data/README"))
	status, err := os.ReadFile(filepath.Join(apt.root, "var/lib/dpkg/status"))
	require.NoError(t, err)
	require.Contains(t, string(status), "Package: libfoo1\nStatus: install ok installed")
}

// TestAptGetReadsChunkedIndexes: apt reads Packages.xz made of many xz
// Blocks and Packages.gz made of many deflate chunks (see chunk.go), each
// in turn, and finds the packages of the first and the last chunk.
func TestAptGetReadsChunkedIndexes(t *testing.T) {
	t.Parallel()
	aptGet := needTool(t, "apt-get")
	tmp := t.TempDir()
	pkgs := SplitByArch(synthRepo(12_000)["main"], []string{"amd64"})["amd64"]
	ix, err := NewIndex("main", "amd64", pkgs)
	require.NoError(t, err)
	require.Greater(t, len(ix.xzChunks), 3)
	require.Greater(t, len(ix.gzChunks), 12)
	files, err := ix.Files([]Compression{Gzip, XZ})
	require.NoError(t, err)
	srv := serveRepo(t, tmp, filepath.Join(tmp, "repo"), []string{"amd64"}, []string{"main"}, files)
	first, last := ix.items[0], ix.items[len(ix.items)-1]

	for _, c := range []struct {
		compression Compression
		file        IndexFile
	}{{XZ, files[2]}, {Gzip, files[1]}} {
		apt := newAptConfig(t, filepath.Join(tmp, "apt-"+string(c.compression)),
			"deb [signed-by="+srv.pubKey+"] "+srv.URL+"/ stable main")
		out := apt.run(t, aptGet, "update", "-o", "Acquire::CompressionTypes::Order::="+string(c.compression))
		requireNoWarnings(t, out)
		require.Contains(t, srv.requested(), "/dists/stable/"+ByHashPath(c.file.Path, "SHA256", c.file.SHA256),
			"apt fetched Packages.%s", c.compression)
		for _, it := range []*item{first, last} {
			show := apt.run(t, "apt-cache", "show", it.name+"="+it.version)
			require.Contains(t, show, "Package: "+it.name+"\n", "%s read from Packages.%s", it.name, c.compression)
		}
	}
}

// TestAptGetMovesToTheNewLayout: an apt client that updated against the
// layout aptq wrote before (SHA256 and SHA512 lists, every file stored,
// by-hash under both) updates against the new one (MD5Sum and SHA256, the
// uncompressed Packages listed but not stored) without a warning and
// installs the package the new generation added.
func TestAptGetMovesToTheNewLayout(t *testing.T) {
	t.Parallel()
	aptGet := needTool(t, "apt-get")
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	var pkgs []Package
	generation := func(o debtest.Options) []IndexFile {
		deb := debtest.Build(t, o)
		p := repoPackage(t, "main", deb)
		writeFile(t, repo, p.Filename, deb)
		pkgs = append(pkgs, p)
		files, err := GenerateIndexes("main", "amd64", pkgs, []Compression{Gzip, XZ})
		require.NoError(t, err)
		return files
	}
	archs, components := []string{"amd64"}, []string{"main"}
	srv := serveRepo(t, tmp, repo, archs, components, nil)
	writeDists(t, tmp, repo, archs, components, generation(debtest.Options{Package: "hello", Version: "1.0-1"}), true)
	apt := newAptConfig(t, filepath.Join(tmp, "apt"), "deb [signed-by="+srv.pubKey+"] "+srv.URL+"/ stable main")
	out := apt.run(t, aptGet, "update")
	requireNoWarnings(t, out)
	require.True(t, slices.ContainsFunc(srv.requested(), func(p string) bool {
		return strings.Contains(p, "/by-hash/SHA512/")
	}), "the old layout was fetched by SHA512: %v", srv.requested())

	files := generation(debtest.Options{Package: "newpkg", Version: "2.0-1"})
	writeDists(t, tmp, repo, archs, components, files, false)
	// apt asks If-Modified-Since, to the second: an InRelease rewritten
	// within the same second would look unchanged.
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(filepath.Join(repo, "dists", "stable", "InRelease"), later, later))
	before := len(srv.requested())
	out = apt.run(t, aptGet, "update")
	requireNoWarnings(t, out)
	require.Contains(t, srv.requested()[before:], "/dists/stable/"+ByHashPath(files[2].Path, "SHA256", files[2].SHA256))
	out = apt.run(t, aptGet, "install", "--download-only", "-y", "newpkg")
	requireNoWarnings(t, out)
	require.FileExists(t, filepath.Join(apt.dir, "var/cache/apt/archives", "newpkg_2.0-1_amd64.deb"))
}

// testServer serves a test repository and records the paths requested.
type testServer struct {
	*httptest.Server
	pubKey string // the signing key, for signed-by

	mu    sync.Mutex
	paths []string
}

func (s *testServer) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.paths)
}

// serveRepo lays the index files out under repo's dists/stable as aptq
// does (see writeDists), signs the Release and serves repo over HTTP.
func serveRepo(t *testing.T, tmp, repo string, archs, components []string, files []IndexFile) *testServer {
	t.Helper()
	srv := &testServer{pubKey: newSigningKey(t, tmp)}
	writeDists(t, tmp, repo, archs, components, files, false)
	srv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.mu.Lock()
		srv.paths = append(srv.paths, r.URL.Path)
		srv.mu.Unlock()
		http.FileServer(http.Dir(repo)).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeDists writes dists/stable: the compressed index files flat and under
// by-hash/SHA256, the uncompressed Packages listed but not stored, a
// Release listing MD5Sum and SHA256, signed with the key of newSigningKey.
// oldLayout writes what aptq wrote before instead: every file, the
// uncompressed one too, flat and under by-hash/SHA256 and SHA512, and a
// Release listing SHA256 and SHA512.
func writeDists(t *testing.T, tmp, repo string, archs, components []string, files []IndexFile, oldLayout bool) {
	t.Helper()
	dists := filepath.Join(repo, "dists", "stable")
	for _, f := range files {
		if !oldLayout && !strings.Contains(filepath.Base(f.Path), ".") {
			continue
		}
		writeFile(t, dists, f.Path, f.Data)
		writeFile(t, dists, ByHashPath(f.Path, "SHA256", f.SHA256), f.Data)
		if oldLayout {
			writeFile(t, dists, ByHashPath(f.Path, "SHA512", sha512Hex(f.Data)), f.Data)
		}
	}
	now := time.Now()
	release := BuildRelease(ReleaseMeta{
		Origin: "aptq", Label: "aptq test", Suite: "stable", Codename: "stable",
		Date: now, ValidUntil: now.Add(7 * 24 * time.Hour), Generation: 7,
		Architectures: archs, Components: components, Description: "aptq apt-get test",
	}, files)
	if oldLayout {
		release = oldReleaseSums(release, files)
	}
	writeFile(t, dists, "Release", release)
	signRelease(t, tmp, dists)
}

// oldReleaseSums replaces the checksum lists of release with the SHA256 and
// SHA512 lists aptq wrote before it followed Debian's archive.
func oldReleaseSums(release []byte, files []IndexFile) []byte {
	head, _, _ := strings.Cut(string(release), "MD5Sum:\n")
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b IndexFile) int { return strings.Compare(a.Path, b.Path) })
	b := []byte(head + "SHA256:\n")
	for _, f := range sorted {
		b = fmt.Appendf(b, " %s %16d %s\n", f.SHA256, f.Size, f.Path)
	}
	b = append(b, "SHA512:\n"...)
	for _, f := range sorted {
		b = fmt.Appendf(b, " %s %16d %s\n", sha512Hex(f.Data), f.Size, f.Path)
	}
	return b
}

func sha512Hex(data []byte) string {
	s := sha512.Sum512(data)
	return hex.EncodeToString(s[:])
}

// newSigningKey makes a throwaway OpenPGP key in tmp/gnupg for signRelease
// and returns the path of its public key, for signed-by.
func newSigningKey(t *testing.T, tmp string) string {
	t.Helper()
	gpg, err := exec.LookPath("gpg")
	require.NoError(t, err, "gpg is needed to sign the test repository (apt-get install gnupg)")
	home := filepath.Join(tmp, "gnupg")
	require.NoError(t, os.Mkdir(home, 0o700))
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		_ = runQuiet(env, "gpgconf", "--kill", "gpg-agent") // best effort: the agent only holds a test key
	})
	run(t, tmp, env, gpg, append(gpgBatch, "--quick-gen-key", "aptq test <test@aptq.invalid>", "ed25519", "sign", "never")...)
	pub := filepath.Join(tmp, "aptq-test.gpg")
	run(t, tmp, env, gpg, "--batch", "--output", pub, "--export")
	return pub
}

var gpgBatch = []string{"--batch", "--pinentry-mode", "loopback", "--passphrase", ""}

// signRelease signs dists/<rel>/Release with the key of newSigningKey, as
// the aptq CLI does: InRelease (clearsigned) and Release.gpg (detached,
// armored).
func signRelease(t *testing.T, tmp, dists string) {
	t.Helper()
	env := []string{"GNUPGHOME=" + filepath.Join(tmp, "gnupg")}
	release := filepath.Join(dists, "Release")
	run(t, tmp, env, "gpg", append(gpgBatch, "--yes", "--output", filepath.Join(dists, "InRelease"), "--clearsign", release)...)
	run(t, tmp, env, "gpg", append(gpgBatch, "--yes", "--output", filepath.Join(dists, "Release.gpg"), "--armor", "--detach-sign", release)...)
}

// aptConfig is a throwaway apt installation under dir: its own sources,
// lists, cache and dpkg status, and none of the host's configuration.
type aptConfig struct {
	dir, root string
	env       []string
}

func newAptConfig(t *testing.T, dir, sourcesLine string) aptConfig {
	t.Helper()
	root := filepath.Join(dir, "root")
	for _, d := range []string{
		"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log/apt",
		"root/var/lib/dpkg/updates", "root/var/lib/dpkg/info", "root/var/lib/dpkg/triggers",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	writeFile(t, dir, "root/var/lib/dpkg/status", nil)
	writeFile(t, dir, "sources.list", []byte(sourcesLine+"\n"))
	// APT_CONFIG is read before the host's apt.conf.d, and points
	// Dir::Etc::Parts and Main away from it, so host settings (proxies,
	// hooks, other sources) cannot leak in.
	conf := strings.Join([]string{
		`Dir "` + dir + `/";`,
		`Dir::Etc::Main "` + dir + `/etc/apt/apt.conf";`,
		`Dir::Etc::Parts "` + dir + `/etc/apt/apt.conf.d/";`,
		`Dir::Etc::SourceList "` + dir + `/sources.list";`,
		`Dir::Etc::SourceParts "` + dir + `/etc/apt/sources.list.d/";`,
		`Dir::State::status "` + root + `/var/lib/dpkg/status";`,
		`DPkg::Options { "--root=` + root + `"; "--admindir=` + root + `/var/lib/dpkg"; "--force-script-chrootless"; "--log=` + dir + `/var/log/dpkg.log"; };`,
		`DPkg::Path "/usr/sbin:/usr/bin:/sbin:/bin";`,
		`APT::Architecture "amd64";`,
		`APT::Architectures { "amd64"; };`,
		`APT::Sandbox::User "root";`,
		`Debug::NoLocking "true";`,
		`Acquire::Languages "none";`,
		`Acquire::http::Proxy "DIRECT";`,
		`Acquire::Retries "0";`,
	}, "\n") + "\n"
	writeFile(t, dir, "apt.conf", []byte(conf))
	return aptConfig{dir: dir, root: root, env: []string{
		"APT_CONFIG=" + filepath.Join(dir, "apt.conf"),
		"LC_ALL=C", "http_proxy=", "HTTP_PROXY=", "no_proxy=*",
	}}
}

// run runs an apt command with the throwaway configuration and returns its
// combined output.
func (a aptConfig) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	return string(runCombined(t, a.dir, a.env, name, args...))
}

var aptProblem = regexp.MustCompile(`(?m)^(W|E|Err):`)

// requireNoWarnings fails on the warnings and errors apt prints about
// signatures, hashes or missing files (it exits 0 for some of them).
func requireNoWarnings(t *testing.T, out string) {
	t.Helper()
	require.False(t, aptProblem.MatchString(out), "apt complained:\n%s", out)
}
