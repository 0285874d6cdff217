package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	aptpkg "github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
)

// TestChangesUpload is the dput user's path: a .changes made by
// dpkg-genchanges (source and binary) published with pkg add FILE.changes
// in one change to the release --release names (its Distribution,
// unstable, only warned about); apt-get then installs the binary and
// fetches the source, and the .changes is on record for operators.
func TestChangesUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("up", "stable")
	dir := filepath.Join(b.dir, "upload")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	changes := debtest.BuildChanges(t, dir, debtest.SourceOptions{Source: "hello", Upstream: "2.0"})

	out, errOut, code := b.cli(context.Background(), "pkg", "add", "--repo", "up", "--release", "stable", "--key", key, changes)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, "published generation 1", "the source and the binary in one change")
	require.Contains(t, errOut, "is for distribution unstable; publishing to release stable as --release says")
	require.Contains(t, errOut, "hello_2.0-1_amd64.buildinfo is not published")

	pub, err := os.ReadFile(pubKeyFile(key))
	require.NoError(t, err)
	apt := newAptClient(t, b.URL+"/apt/"+b.Tenant+"/up", "stable", "main", string(pub))
	sourcesList := filepath.Join(apt.Dir, "etc", "sources.list")
	deb, err := os.ReadFile(sourcesList)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sourcesList, append(deb, bytes.Replace(deb, []byte("deb "), []byte("deb-src "), 1)...), 0o644))
	apt.run("update")
	require.Contains(t, apt.run("install", "-y", "--download-only", "hello"), "hello")
	download := t.TempDir()
	got, err := apt.RunIn(context.Background(), download, "source", "--download-only", "hello")
	require.NoError(t, err, got)
	_, err = os.Stat(filepath.Join(download, "hello_2.0.orig.tar.gz"))
	require.NoError(t, err)

	data, err := os.ReadFile(changes)
	require.NoError(t, err)
	conn, err := pgx.Connect(context.Background(), b.dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var recorded string
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT details->>'changes_file' FROM audit_log WHERE action = 'change.upload'`).Scan(&recorded))
	require.Equal(t, aptpkg.DescribeFile("", data).SHA256, recorded)
}

// TestChangesUploadRefused: a file that is not what the .changes lists
// (changed after dpkg-genchanges) is named, and nothing is uploaded.
func TestChangesUploadRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.repoWithKey("up", "stable")
	dir := filepath.Join(b.dir, "upload")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	changes := debtest.BuildChanges(t, dir, debtest.SourceOptions{Source: "hello", Upstream: "2.0"})
	f, err := os.OpenFile(filepath.Join(dir, "hello_2.0-1.debian.tar.xz"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out, errOut, code := b.cli(context.Background(), "pkg", "add", "--repo", "up", "--release", "stable", "--key", key, changes)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "lists hello_2.0-1.debian.tar.xz: hello_2.0-1.debian.tar.xz is")
	require.Contains(t, errOut, "nothing was uploaded")
	conn, err := pgx.Connect(context.Background(), b.dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM uploaded_files) + (SELECT count(*) FROM packages)`).Scan(&n))
	require.Zero(t, n)
}
