package api

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// dscOf writes a .dsc of source name version listing files (name → content).
func dscOf(name, version string, files ...[2]string) []byte {
	var md5s, sha256s strings.Builder
	for _, f := range files {
		fmt.Fprintf(&md5s, " %x %d %s\n", md5.Sum([]byte(f[1])), len(f[1]), f[0])
		fmt.Fprintf(&sha256s, " %x %d %s\n", sha256.Sum256([]byte(f[1])), len(f[1]), f[0])
	}
	return []byte("Format: 3.0 (quilt)\nSource: " + name + "\nVersion: " + version + "\nArchitecture: all\n" +
		"Files:\n" + md5s.String() + "Checksums-Sha256:\n" + sha256s.String())
}

// sourceTables are the rows an upload of a source may add.
var sourceTables = []string{"packages", "uploaded_files", "source_files", "repository_pool_files", "changes"}

func (b *bundle) counts(tables []string) map[string]int {
	out := map[string]int{}
	for _, t := range tables {
		out[t] = b.count(t)
	}
	return out
}

// TestPutSourceReal uploads a source package built by dpkg-source: its
// files, then its .dsc, which becomes a package of architecture "source".
func TestPutSourceReal(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	dir := t.TempDir()
	dscPath := debtest.BuildSource(t, dir, debtest.SourceOptions{Source: "hello", Upstream: "1.0"})
	dsc, err := os.ReadFile(dscPath)
	require.NoError(t, err)
	for _, name := range []string{"hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/files/"+sha256Hex(data), data, nil))
		require.Equal(t, http.StatusOK, b.do(http.MethodPut, "/v1/files/"+sha256Hex(data), data, nil), "again")
		require.Equal(t, http.StatusOK, b.do(http.MethodHead, "/v1/files/"+sha256Hex(data), nil, nil))
	}
	var p PackageResponse
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/sources/"+sha256Hex(dsc), dsc, &p))
	require.Equal(t, PackageResponse{SHA256: sha256Hex(dsc), Name: "hello", Version: "1.0-1", Architecture: "source",
		Source: "hello", Size: int64(len(dsc))}, p)
	require.Equal(t, http.StatusOK, b.do(http.MethodPut, "/v1/sources/"+sha256Hex(dsc), dsc, nil), "again")
	require.Equal(t, 2, b.count("source_files"))
}

// TestPutSourceRefused replays what a careless or hostile uploader sends:
// each gets its status and code, names the file at fault, and adds nothing.
func TestPutSourceRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	orig := [2]string{"foo_1.0.orig.tar.gz", "upstream bytes"}
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/files/"+sha256Hex([]byte(orig[1])), []byte(orig[1]), nil))
	_, other, err := b.store.CreateTenant(context.Background(), "other-"+randomSuffix()[:8])
	require.NoError(t, err)
	mine := b.token

	before := b.counts(sourceTables)
	for name, c := range map[string]struct {
		dsc    []byte
		token  string
		path   string // default: the .dsc's own SHA-256
		status int
		code   string
		file   string
	}{
		"file not uploaded": {dsc: dscOf("foo", "1.0-1", orig, [2]string{"foo_1.0-1.debian.tar.xz", "never sent"}),
			status: 422, code: wire.CodeMissingFile, file: "foo_1.0-1.debian.tar.xz"},
		"another tenant's file": {dsc: dscOf("foo", "1.0-1", orig), token: other,
			status: 422, code: wire.CodeMissingFile, file: "foo_1.0.orig.tar.gz"},
		"same SHA-256, other size": {dsc: []byte(strings.Replace(string(dscOf("foo", "1.0-1", orig)), " 14 ", " 15 ", 2)),
			status: 422, code: wire.CodeChecksumMismatch, file: "foo_1.0.orig.tar.gz"},
		"same SHA-256, other MD5": {dsc: []byte(strings.Replace(string(dscOf("foo", "1.0-1", orig)),
			fmt.Sprintf("%x", md5.Sum([]byte(orig[1]))), strings.Repeat("0", 32), 1)),
			status: 422, code: wire.CodeChecksumMismatch, file: "foo_1.0.orig.tar.gz"},
		"path traversal": {dsc: dscOf("foo", "1.0-1", [2]string{"foo_/../../etc/passwd", orig[1]}),
			status: 422, code: wire.CodeInvalidPackage},
		"body not its SHA-256": {dsc: dscOf("foo", "1.0-1", orig), path: strings.Repeat("a", 64),
			status: 422, code: wire.CodeChecksumMismatch},
		"too large": {dsc: append(dscOf("foo", "1.0-1", orig), strings.Repeat("X-Pad: x\n", 1<<17)...),
			status: 413, code: codeTooLarge},
	} {
		b.token = mine
		if c.token != "" {
			b.token = c.token
		}
		path := c.path
		if path == "" {
			path = sha256Hex(c.dsc)
		}
		e := b.expectError(http.MethodPut, "/v1/sources/"+path, c.dsc, c.status, c.code)
		if c.file != "" {
			require.Equal(t, c.file, e.Details["file"], name)
			require.Contains(t, e.Message, c.file, name)
		}
		require.Equal(t, before, b.counts(sourceTables), name)
	}
	b.token = mine

	// A file whose body is not its SHA-256 is neither recorded nor stored.
	e := b.expectError(http.MethodPut, "/v1/files/"+strings.Repeat("b", 64), []byte("x"), 422, wire.CodeChecksumMismatch)
	require.Equal(t, strings.Repeat("b", 64), e.Details["expected"])
	require.Equal(t, before, b.counts(sourceTables))
	_, err = b.api.blob.Head(context.Background(), store.PackageBlobKey(b.tenant.ID, strings.Repeat("b", 64)))
	require.Error(t, err)
}

// TestSourceChanges: two revisions sharing an orig tarball go in, sharing
// its pool path; a third bringing other bytes under that tarball's name is
// a 409 naming the file, and claims nothing. A source is removed by
// NAME=VERSION:source... through the removals API of the lifecycle commands.
func TestSourceChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "stable"}, nil))
	upload := func(version string, files ...[2]string) string {
		for _, f := range files {
			status := b.do(http.MethodPut, "/v1/files/"+sha256Hex([]byte(f[1])), []byte(f[1]), nil)
			require.Contains(t, []int{http.StatusOK, http.StatusCreated}, status)
		}
		dsc := dscOf("hello", version, files...)
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/sources/"+sha256Hex(dsc), dsc, nil))
		return sha256Hex(dsc)
	}
	add := func(sum string) map[string]any {
		return map[string]any{"adds": []map[string]string{{"sha256": sum, "component": "main"}}}
	}
	orig := [2]string{"hello_1.0.orig.tar.gz", "upstream 1.0"}
	first := upload("1.0-1", orig, [2]string{"hello_1.0-1.debian.tar.xz", "debian 1"})
	second := upload("1.0-2", orig, [2]string{"hello_1.0-2.debian.tar.xz", "debian 2"})
	third := upload("1.0-3", [2]string{orig[0], "repacked upstream 1.0"}, [2]string{"hello_1.0-3.debian.tar.xz", "debian 3"})

	rel := "/v1/repos/r/releases/stable/changes"
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, rel, add(first), nil))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, rel, add(second), nil))
	require.Equal(t, 3, b.count("repository_pool_files"), "the orig tarball is claimed once, beside two debian tarballs")
	before := b.counts(append(sourceTables, "repository_pool", "repository_packages"))
	e := b.expectError(http.MethodPost, rel, add(third), http.StatusConflict, store.CodePackageConflict)
	require.Equal(t, "pool/main/h/hello/hello_1.0.orig.tar.gz", e.Details["filename"])
	require.Equal(t, before, b.counts(append(sourceTables, "repository_pool", "repository_packages")))

	// The removals a change may carry name a source by architecture "source".
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, rel, map[string]any{"removes": []map[string]string{
		{"name": "hello", "version": "1.0-1", "architecture": "source", "component": "main"}}}, nil))
}

// TestChangesFileRecorded: a change that names the .changes it publishes
// records it in the audit log; a .changes the tenant never uploaded is a
// 422 and submits nothing.
func TestChangesFileRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "stable"}, nil))
	deb := debtest.Build(t, debtest.Options{Package: "hello", Version: "1.0", Architecture: "amd64"})
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
	changes := []byte("-----BEGIN PGP SIGNED MESSAGE-----\n…the maintainer's upload…\n")
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/files/"+sha256Hex(changes), changes, nil))
	req := func(file string) map[string]any {
		return map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}, "changes_file": file}
	}
	rel := "/v1/repos/r/releases/stable/changes"
	before := b.counts([]string{"changes", "audit_log"})
	e := b.expectError(http.MethodPost, rel, req(strings.Repeat("c", 64)), 422, wire.CodeMissingFile)
	require.Equal(t, "changes_file", e.Details["field"])
	b.expectError(http.MethodPost, rel, req("../x"), 422, store.CodeInvalid)
	require.Equal(t, before, b.counts([]string{"changes", "audit_log"}))

	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, rel, req(sha256Hex(changes)), nil))
	var recorded string
	require.NoError(t, b.store.Pool.QueryRow(context.Background(),
		`SELECT details->>'changes_file' FROM audit_log WHERE action = 'change.upload'`).Scan(&recorded))
	require.Equal(t, sha256Hex(changes), recorded)
}
