package worker

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/store"
)

// enableContents turns Contents on for the bundle's release.
func (b *bundle) enableContents(t *testing.T) {
	t.Helper()
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE releases SET contents = true WHERE id = $1`, b.release.ID)
	require.NoError(t, err)
	b.release.Contents = true
}

// addFilesChange records a change adding a package with these files; its
// file list is stored as the API stores it when stored is set, else left
// for the worker to read from the uploaded .deb.
func (b *bundle) addFilesChange(t *testing.T, name, arch string, stored bool, files ...string) store.Change {
	t.Helper()
	p := b.uploadPackage(t, debtest.Options{Package: name, Version: "1.0", Architecture: arch, Files: files})
	if stored {
		deb := b.read(t, store.PackageBlobKey(p.TenantID, p.SHA256))
		_, list, err := apt.ReadDebFiles(bytes.NewReader(deb))
		require.NoError(t, err)
		require.NoError(t, b.store.SetPackageFileList(b.ctx, p.ID, apt.EncodeFileList(list), len(list)))
	}
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, []store.ChangeAdd{{PackageID: p.ID,
		Component: "main", Architecture: p.Architecture,
		Filename: apt.PoolPath("main", p.Source, p.Name, p.Version, p.Architecture)}}, nil)
	require.NoError(t, err)
	return c
}

// publishChanges runs one round of changes with w and returns it published.
func (b *bundle) publishChanges(t *testing.T, w *PublishWorker, changes ...store.Change) store.Round {
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

// contentsOf returns the text of the round's Contents-<arch>.gz, read from
// its by-hash object and its flat file (which must agree).
func (b *bundle) contentsOf(t *testing.T, round store.Round, arch string) string {
	t.Helper()
	for _, f := range round.Files {
		if f.Path == "main/"+apt.ContentsFileName(arch) {
			data := b.read(t, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
			require.Equal(t, data, b.read(t, distsKey(b.repo.Prefix, "stable", f.Path)))
			require.Equal(t, f.Size, int64(len(data)))
			return gunzip(t, data)
		}
	}
	t.Fatalf("round lists no main/Contents-%s.gz", arch)
	return ""
}

// TestContentsRounds: a contents release's rounds list Contents-<arch>.gz
// for every architecture (arch all packages in each), edited from the
// cached index by the worker that cut the last round and rebuilt from the
// database (reading the file list of a package uploaded before file lists
// were stored from its .deb) by another, with the same bytes.
func TestContentsRounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.enableContents(t)
	w := b.worker("w")
	b.publishChanges(t, w, b.addFilesChange(t, "hello", "amd64", true, "./usr/bin/hello"),
		b.addFilesChange(t, "common", "all", false, "./usr/share/common/data"))
	second := b.publishChanges(t, w, b.addFilesChange(t, "tool", "arm64", true, "./usr/bin/tool", "./usr/bin/hello"))
	require.Equal(t, "usr/bin/hello\tmisc/hello\nusr/share/common/data\tmisc/common\n"+
		"usr/share/doc/common/README\tmisc/common\nusr/share/doc/hello/README\tmisc/hello\n", b.contentsOf(t, second, "amd64"))
	require.Equal(t, "usr/bin/hello\tmisc/tool\nusr/bin/tool\tmisc/tool\nusr/share/common/data\tmisc/common\n"+
		"usr/share/doc/common/README\tmisc/common\nusr/share/doc/tool/README\tmisc/tool\n", b.contentsOf(t, second, "arm64"))
	var missing int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT count(*) FROM packages WHERE file_list IS NULL OR file_count IS NULL`).Scan(&missing))
	require.Zero(t, missing, "the file list read from the .deb is stored")

	// Edited by w (cache hit) and rebuilt by another worker: the same file.
	remove := func() store.Change {
		c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil,
			[]store.ChangeRemove{{Name: "hello", Version: "1.0", Architecture: "amd64", Component: "main"}})
		require.NoError(t, err)
		return c
	}
	third := b.publishChanges(t, w, remove())
	require.NotContains(t, b.contentsOf(t, third, "amd64"), "hello")
	ct, err := b.worker("fresh").rebuildContents(b.ctx, b.release, indexKey{"main", "amd64"}, nil, nil)
	require.NoError(t, err)
	f := ct.File()
	for _, listed := range third.Files {
		if listed.Path == f.Path {
			require.Equal(t, f.SHA256, listed.SHA256)
		}
	}
	fourth := b.publishChanges(t, b.worker("other"), b.addFilesChange(t, "late", "amd64", false, "./opt/late"))
	require.Contains(t, b.contentsOf(t, fourth, "amd64"), "opt/late\tmisc/late\n")
	require.Contains(t, b.contentsOf(t, fourth, "amd64"), "usr/share/common/data\tmisc/common\n")
}

// TestContentsReconcile: a deleted Contents by-hash object and flat file
// are found and put back from the database.
func TestContentsReconcile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.enableContents(t)
	w := b.worker("w")
	round := b.publishChanges(t, w, b.addFilesChange(t, "hello", "amd64", true, "./usr/bin/hello"))
	want := b.contentsOf(t, round, "amd64")
	var f store.IndexFile
	for _, rf := range round.Files {
		if rf.Path == "main/Contents-amd64.gz" {
			f = rf
		}
	}
	byHash := distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256))
	flat := distsKey(b.repo.Prefix, "stable", f.Path)
	require.NoError(t, b.blob.Delete(b.ctx, byHash))
	require.NoError(t, b.blob.Delete(b.ctx, flat))
	report, err := b.worker("other").reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	var keys []string
	for _, r := range report.Repairs {
		keys = append(keys, r.Key)
	}
	require.ElementsMatch(t, []string{byHash, flat}, keys)
	require.Equal(t, want, b.contentsOf(t, round, "amd64"))
	report, err = w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "ok", report.Outcome, "%+v", report.Repairs)
}

// TestContentsGC: garbage collection keeps the Contents by-hash objects of
// the last KeepGenerations generations and deletes the older ones.
func TestContentsGC(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.enableContents(t)
	w := b.worker("w")
	var rounds []store.Round
	for i := range 4 {
		rounds = append(rounds, b.publishChanges(t, w, b.addFilesChange(t, "p"+string(rune('a'+i)), "amd64", true, "./usr/bin/p")))
	}
	exists := func(f store.IndexFile) bool {
		_, err := b.blob.Head(b.ctx, distsKey(b.repo.Prefix, "stable", apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
		return err == nil
	}
	w.cfg.KeepGenerations, w.cfg.GCGrace = 2, time.Nanosecond
	_, err := w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	kept := map[string]bool{}
	for _, r := range rounds[2:] {
		for _, f := range r.Files {
			kept[f.SHA256] = true
		}
	}
	checked, deleted := 0, 0
	for _, r := range rounds {
		for _, f := range r.Files {
			if _, ok := contentsKeyOf(f.Path); !ok || f.ListedOnly {
				continue
			}
			checked++
			if !kept[f.SHA256] {
				deleted++
			}
			require.Equal(t, kept[f.SHA256], exists(f), "generation %d's %s", r.Generation, f.Path)
		}
	}
	require.Equal(t, 8, checked)
	require.Equal(t, 2, deleted, "generations 1 and 2's Contents-amd64.gz went")
}
