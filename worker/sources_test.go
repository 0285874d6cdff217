package worker

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// uploadSource records a source package as the API does from its .dsc,
// whose orig tarball has SHA-256 origSum.
func (b *bundle) uploadSource(t *testing.T, name, version, origSum string) store.Package {
	t.Helper()
	dsc := []byte(fmt.Sprintf("Format: 3.0 (quilt)\nSource: %s\nVersion: %s\nArchitecture: all\n"+
		"Files:\n %s 10 %s_1.0.orig.tar.gz\nChecksums-Sha256:\n %s 10 %s_1.0.orig.tar.gz\n",
		name, version, origSum[:32], name, origSum, name))
	d, err := apt.ParseDSC(dsc)
	require.NoError(t, err)
	p, _, err := b.store.InsertPackage(b.ctx, store.Package{TenantID: b.tenant.ID, SHA256: d.Self.SHA256,
		SHA512: d.Self.SHA512, SHA1: d.Self.SHA1, MD5: d.Self.MD5, Size: d.Self.Size, Name: d.Source,
		Version: d.Version, Architecture: apt.ArchSource, Source: d.Source, Control: apt.SourceControl(d).String()})
	require.NoError(t, err)
	_, err = b.blob.Put(b.ctx, store.PackageBlobKey(p.TenantID, p.SHA256), bytesReader(dsc), int64(len(dsc)), blob.PutOptions{})
	require.NoError(t, err)
	return p
}

// roundOf cuts, signs and publishes one round of the given changes.
func (b *bundle) roundOf(t *testing.T, w *PublishWorker, changes ...store.Change) store.Round {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	lease := b.lease(t, w)
	defer func() { require.NoError(t, b.store.ReleaseLease(b.ctx, lease)) }()
	round, err := w.cut(b.ctx, lease, changes, log)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))
	published, err := b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoundPublished, published.State)
	return published
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

	src := b.uploadSource(t, "hello", "1.0-1", randomHex(32))
	add, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, []store.ChangeAdd{{PackageID: src.ID,
		Component: "main", Architecture: apt.ArchSource, Filename: apt.SourceDir("main", "hello") + "/hello_1.0-1.dsc"}}, nil)
	require.NoError(t, err)
	round := b.roundOf(t, w, add)

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
	last := b.roundOf(t, w, remove)
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
