package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
)

// sourceDebs is what every source repository of the import tests holds:
// an epoch, two versions of one package, Architecture: all, and a package
// of the second architecture.
var sourceDebs = []debtest.Options{
	{Package: "hello", Version: "1.0-1", Architecture: "amd64"},
	{Package: "hello", Version: "1:2.0-1", Architecture: "amd64"},
	{Package: "hello-data", Version: "2.0-1", Architecture: "all", Source: "hello"},
	{Package: "tool", Version: "0.9-1", Architecture: "arm64"},
}

// srcGPG is a throwaway gpg home with one signing key, for the tools that
// sign through gpg (aptly, reprepro, gpg itself for apt-ftparchive).
type srcGPG struct {
	home, fpr string
	pub       string // the armored public key's file
}

func newSrcGPG(t *testing.T) *srcGPG {
	t.Helper()
	g := &srcGPG{home: filepath.Join(t.TempDir(), "gnupg")}
	require.NoError(t, os.Mkdir(g.home, 0o700))
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--homedir", g.home, "--kill", "gpg-agent").Run() })
	g.run(t, "", "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Import Source <src@example.com>", "ed25519", "sign", "never")
	for line := range strings.Lines(g.run(t, "", "gpg", "--batch", "--with-colons", "--list-keys")) {
		if f := strings.Split(line, ":"); f[0] == "fpr" && g.fpr == "" {
			g.fpr = f[9]
		}
	}
	require.NotEmpty(t, g.fpr)
	g.pub = filepath.Join(g.home, "pub.asc")
	require.NoError(t, os.WriteFile(g.pub, []byte(g.run(t, "", "gpg", "--batch", "--armor", "--export", g.fpr)), 0o644))
	return g
}

// run runs a command in dir with GNUPGHOME set and returns its stdout.
func (g *srcGPG) run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s %v\n%s%s", name, args, stdout.String(), stderr.String())
	return stdout.String()
}

// writeSourceDebs builds sourceDebs into a new directory.
func writeSourceDebs(t *testing.T) (dir string, paths []string) {
	dir = t.TempDir()
	for _, o := range sourceDebs {
		paths = append(paths, writeDeb(t, dir, o))
	}
	return dir, paths
}

// aptlyRepo publishes sourceDebs with the real aptly (a local repository
// published to a filesystem endpoint, signed by g) and returns the root.
func aptlyRepo(t *testing.T, g *srcGPG) string {
	debs, _ := writeSourceDebs(t)
	root, pub := t.TempDir(), t.TempDir()
	conf := filepath.Join(root, "aptly.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`{"rootDir": "`+root+`/db", "gpgProvider": "gpg",
		"FileSystemPublishEndpoints": {"src": {"rootDir": "`+pub+`", "linkMethod": "copy"}}}`), 0o644))
	aptly := func(args ...string) { g.run(t, "", "aptly", append([]string{"-config=" + conf}, args...)...) }
	aptly("repo", "create", "-distribution=bookworm", "-component=main", "src")
	aptly("repo", "add", "src", debs)
	aptly("publish", "repo", "-architectures=amd64,arm64", "-gpg-key="+g.fpr, "src", "filesystem:src:")
	return pub
}

// repreproRepo publishes sourceDebs with the real reprepro, signed by g.
func repreproRepo(t *testing.T, g *srcGPG) string {
	_, debs := writeSourceDebs(t)
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "conf"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "conf", "distributions"), []byte(
		"Codename: bookworm\nArchitectures: amd64 arm64\nComponents: main\nSignWith: "+g.fpr+"\n"), 0o644))
	// reprepro keeps one version of a package per distribution: the
	// epoch one is the newest.
	var keep []string
	for i, o := range sourceDebs {
		if o.Version != "1.0-1" {
			keep = append(keep, debs[i])
		}
	}
	g.run(t, "", "reprepro", append([]string{"-b", root, "includedeb", "bookworm"}, keep...)...)
	return root
}

// ftparchiveRepo writes sourceDebs into a repository indexed by
// apt-ftparchive, with Packages, .gz and .xz, and a Release signed by g
// only as Release.gpg (no InRelease), as older setups publish.
func ftparchiveRepo(t *testing.T, g *srcGPG) string {
	root := t.TempDir()
	pool := filepath.Join(root, "pool", "main")
	require.NoError(t, os.MkdirAll(pool, 0o755))
	for _, o := range sourceDebs {
		writeDeb(t, pool, o)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		dir := filepath.Join(root, "dists", "bookworm", "main", "binary-"+arch)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		packages := g.run(t, root, "apt-ftparchive", "--arch", arch, "packages", "pool")
		writePackages(t, dir, []byte(packages))
	}
	signFTPArchive(t, g, root)
	return root
}

// writePackages writes Packages, Packages.gz and Packages.xz into dir.
func writePackages(t *testing.T, dir string, plain []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Packages"), plain, 0o644))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Packages.gz"), gz.Bytes(), 0o644))
	out, err := exec.Command("xz", "-kf", filepath.Join(dir, "Packages")).CombinedOutput()
	require.NoError(t, err, string(out))
}

// signFTPArchive (re)writes dists/bookworm/Release with apt-ftparchive and
// signs it with g as Release.gpg.
func signFTPArchive(t *testing.T, g *srcGPG, root string) {
	t.Helper()
	dist := filepath.Join(root, "dists", "bookworm")
	for _, name := range []string{"Release", "Release.gpg"} {
		_ = os.Remove(filepath.Join(dist, name))
	}
	release := g.run(t, root, "apt-ftparchive", "-o", "APT::FTPArchive::Release::Codename=bookworm",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64 arm64",
		"release", "dists/bookworm")
	require.NoError(t, os.WriteFile(filepath.Join(dist, "Release"), []byte(release), 0o644))
	g.run(t, dist, "gpg", "--batch", "--armor", "--detach-sign", "-u", g.fpr, "-o", "Release.gpg", "Release")
}

// sourceServer serves a repository directory over HTTP and records the
// paths asked for. With failAfter > 0, pool files past the first failAfter
// answer 500, as a source that breaks down mid-import.
type sourceServer struct {
	*httptest.Server
	mu        sync.Mutex
	paths     []string
	failAfter int
	poolGets  int
}

func serveSource(t *testing.T, root string) *sourceServer {
	s := &sourceServer{}
	files := http.FileServer(http.Dir(root))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		fail := false
		if strings.HasPrefix(r.URL.Path, "/pool/") {
			s.poolGets++
			fail = s.failAfter > 0 && s.poolGets > s.failAfter
		}
		s.mu.Unlock()
		if fail {
			http.Error(w, "source broke down", http.StatusInternalServerError)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// requested returns the paths asked for so far that start with prefix.
func (s *sourceServer) requested(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.paths {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// stanzaKeys reads "Package Version Architecture SHA256" of every stanza
// of a Packages file, sorted.
func stanzaKeys(t *testing.T, plain []byte) []string {
	t.Helper()
	var keys []string
	for stanza := range strings.SplitSeq(string(plain), "\n\n") {
		if strings.TrimSpace(stanza) == "" {
			continue
		}
		p, err := apt.ParseParagraph([]byte(stanza))
		require.NoError(t, err)
		keys = append(keys, strings.Join([]string{p.Get("Package"), p.Get("Version"), p.Get("Architecture"), p.Get("SHA256")}, " "))
	}
	slices.Sort(keys)
	return keys
}

// importInto runs aptq import of src into release bookworm of repo.
func (b *bundle) importInto(ctx context.Context, repo, keyFile, from string, extra ...string) (string, string, int) {
	args := append([]string{"import", "--repo", repo, "--release", "bookworm", "--from", from, "--dist", "bookworm",
		"--key", keyFile}, extra...)
	return b.cli(ctx, args...)
}
