package worker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
)

// uploadSource records a source package as the API does: its files
// (name → content) uploaded, then its .dsc.
func (b *bundle) uploadSource(t *testing.T, name, version string, files ...[2]string) store.Package {
	t.Helper()
	var md5s, sha256s strings.Builder
	var listed []store.SourceFile
	for _, f := range files {
		d := apt.DescribeFile(f[0], []byte(f[1]))
		fmt.Fprintf(&md5s, " %s %d %s\n", d.MD5, d.Size, d.Name)
		fmt.Fprintf(&sha256s, " %s %d %s\n", d.SHA256, d.Size, d.Name)
		_, err := b.store.InsertUploadedFile(b.ctx, store.UploadedFile{TenantID: b.tenant.ID, SHA256: d.SHA256,
			SHA512: d.SHA512, SHA1: d.SHA1, MD5: d.MD5, Size: d.Size})
		require.NoError(t, err)
		_, err = b.blob.Put(b.ctx, store.PackageBlobKey(b.tenant.ID, d.SHA256), bytesReader([]byte(f[1])), d.Size, blob.PutOptions{})
		require.NoError(t, err)
		listed = append(listed, store.SourceFile{Name: d.Name, SHA256: d.SHA256, MD5: d.MD5, Size: d.Size})
	}
	dsc := []byte("Format: 3.0 (quilt)\nSource: " + name + "\nVersion: " + version + "\nArchitecture: all\n" +
		"Files:\n" + md5s.String() + "Checksums-Sha256:\n" + sha256s.String())
	d, err := apt.ParseDSC(dsc)
	require.NoError(t, err)
	p, _, err := b.store.InsertSource(b.ctx, store.Package{TenantID: b.tenant.ID, SHA256: d.Self.SHA256,
		SHA512: d.Self.SHA512, SHA1: d.Self.SHA1, MD5: d.Self.MD5, Size: d.Self.Size, Name: d.Source,
		Version: d.Version, Architecture: apt.ArchSource, Source: d.Source, Control: apt.SourceControl(d).String()}, listed)
	require.NoError(t, err)
	_, err = b.blob.Put(b.ctx, store.PackageBlobKey(p.TenantID, p.SHA256), bytesReader(dsc), int64(len(dsc)), blob.PutOptions{})
	require.NoError(t, err)
	return p
}

// sourceChange records a change adding src to main.
func (b *bundle) sourceChange(t *testing.T, src store.Package) store.Change {
	t.Helper()
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, []store.ChangeAdd{{PackageID: src.ID,
		Component: "main", Architecture: apt.ArchSource,
		Filename: apt.PoolPath("main", src.Name, src.Name, src.Version, apt.ArchSource)}}, nil)
	require.NoError(t, err)
	return c
}

// TestSourcesIndex: a release without sources lists no Sources; the first
// source added to a component makes main/source/Sources (listed) and
// Sources.gz (stored flat and by-hash) with its stanza in its pool
// directory, and leaves the Packages indexes alone; a round that does not
// touch sources lists the same Sources files; removing the last source
// leaves an empty Sources listed.
func TestSourcesIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	first := b.publish(t, w, "one")
	require.NotContains(t, string(first.ReleaseBytes), "source/Sources")

	src := b.uploadSource(t, "hello", "1.0-1", [2]string{"hello_1.0.orig.tar.gz", systest.RandomHex(32)})
	round := b.publishChanges(t, w, b.sourceChange(t, src))

	listed := listedFiles(t, round)
	require.Contains(t, listed, "main/source/Sources")
	gz, ok := listed["main/source/Sources.gz"]
	require.True(t, ok, "Release lists Sources.gz")
	require.Equal(t, listedFiles(t, first)["main/binary-amd64/Packages.gz"], listed["main/binary-amd64/Packages.gz"],
		"a source leaves the Packages indexes alone")
	flat, err := w.read(b.ctx, distsKey(b.repo.Prefix, "stable", "main/source/Sources.gz"))
	require.NoError(t, err)
	byHash, err := w.read(b.ctx, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(gz.Path, "SHA256", gz.SHA256)))
	require.NoError(t, err)
	require.Equal(t, flat, byHash)
	srcs, err := apt.ParseSources([]byte(gunzip(t, flat)))
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	require.Equal(t, "pool/main/h/hello", srcs[0].Directory)
	require.Contains(t, srcs[0].Control.Get("Checksums-Sha256"), src.SHA256+" ")
	require.NotContains(t, gunzip(t, readFlat(t, b, w, "main/binary-amd64/Packages.gz")), "hello")

	next := b.publish(t, w, "two")
	require.Equal(t, gz, listedFiles(t, next)["main/source/Sources.gz"], "untouched Sources is listed as it was")

	remove, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil, []store.ChangeRemove{{Name: "hello",
		Version: "1.0-1", Architecture: apt.ArchSource, Component: "main"}})
	require.NoError(t, err)
	last := b.publishChanges(t, w, remove)
	require.Equal(t, int64(0), listedFiles(t, last)["main/source/Sources"].Size, "an empty Sources stays listed")
}

func listedFiles(t *testing.T, r store.Round) map[string]apt.IndexFile {
	t.Helper()
	rel, err := apt.ParseRelease(r.ReleaseBytes)
	require.NoError(t, err)
	out := map[string]apt.IndexFile{}
	for _, f := range rel.Files {
		out[f.Path] = f
	}
	return out
}

func readFlat(t *testing.T, b *bundle, w *PublishWorker, path string) []byte {
	t.Helper()
	data, err := w.read(b.ctx, distsKey(b.repo.Prefix, "stable", path))
	require.NoError(t, err)
	return data
}

// TestSourcesPoolGCReconcile: a source's files land in its pool directory
// with its .dsc, two revisions sharing one orig tarball; once the first is
// removed, GC deletes its .dsc and debian tarball but keeps the orig
// tarball the second still names; reconcile puts back a deleted source
// file and a deleted Sources (flat and by-hash).
func TestSourcesPoolGCReconcile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	orig := [2]string{"hello_1.0.orig.tar.gz", "upstream " + systest.RandomHex(8)}
	first := b.uploadSource(t, "hello", "1.0-1", orig, [2]string{"hello_1.0-1.debian.tar.xz", "debian 1"})
	second := b.uploadSource(t, "hello", "1.0-2", orig, [2]string{"hello_1.0-2.debian.tar.xz", "debian 2"})
	round := b.publishChanges(t, w, b.sourceChange(t, first), b.sourceChange(t, second))

	dir := b.repo.Prefix + "pool/main/h/hello/"
	names := []string{"hello_1.0-1.dsc", "hello_1.0-2.dsc", orig[0], "hello_1.0-1.debian.tar.xz", "hello_1.0-2.debian.tar.xz"}
	exists := func(name string) bool {
		_, err := b.blob.Head(b.ctx, dir+name)
		return err == nil
	}
	for _, n := range names {
		require.True(t, exists(n), "%s placed", n)
	}
	data, err := w.read(b.ctx, dir+orig[0])
	require.NoError(t, err)
	require.Equal(t, orig[1], string(data))

	remove, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil, []store.ChangeRemove{{Name: "hello",
		Version: "1.0-1", Architecture: apt.ArchSource, Component: "main"}})
	require.NoError(t, err)
	b.publishChanges(t, w, remove)
	w.cfg.GCGrace = time.Hour
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.True(t, exists("hello_1.0-1.debian.tar.xz"), "removed within the grace period: kept")
	w.cfg.GCGrace = time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.False(t, exists("hello_1.0-1.dsc"))
	require.False(t, exists("hello_1.0-1.debian.tar.xz"))
	for _, n := range []string{orig[0], "hello_1.0-2.dsc", "hello_1.0-2.debian.tar.xz"} {
		require.True(t, exists(n), "%s is named by hello 1.0-2: kept", n)
	}

	// Reconcile repairs a lost source file and a lost Sources.
	last, err := b.store.RoundOfGeneration(b.ctx, b.release.ID, round.Generation+1)
	require.NoError(t, err)
	gz := listedFiles(t, last)["main/source/Sources.gz"]
	lost := []string{dir + orig[0], distsKey(b.repo.Prefix, "stable", "main/source/Sources.gz"),
		distsKey(b.repo.Prefix, "stable", apt.ByHashPath(gz.Path, "SHA256", gz.SHA256))}
	for _, key := range lost {
		require.NoError(t, b.blob.Delete(b.ctx, key))
	}
	report, err := w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "repaired 3 objects", report.Outcome, "%+v", report.Repairs)
	for _, key := range lost {
		_, err := b.blob.Head(b.ctx, key)
		require.NoError(t, err, "%s put back", key)
	}
}
