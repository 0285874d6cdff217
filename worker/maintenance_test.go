package worker

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
)

// publish runs one full round of the given new packages and returns it.
func (b *bundle) publish(t *testing.T, w *PublishWorker, names ...string) store.Round {
	t.Helper()
	var changes []store.Change
	for _, n := range names {
		changes = append(changes, b.addChange(t, n))
	}
	return b.publishChanges(t, w, changes...)
}

// TestReconcileRepairs: a deleted by-hash object, a stale flat Packages and
// a deleted InRelease are found and put back as the committed generation
// has them, and the next publish still works on top (its If-Match ETag was
// updated with the repaired InRelease).
func TestReconcileRepairs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	b.publish(t, w, "one")
	round := b.publish(t, w, "two")

	report, err := w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "ok", report.Outcome)
	require.Empty(t, report.Repairs)

	var amd64 store.IndexFile
	for _, f := range round.Files {
		if f.Path == "main/binary-amd64/Packages.gz" {
			amd64 = f
		}
	}
	byHash := distsKey(b.repo.Prefix, "stable", apt.ByHashPath(amd64.Path, "SHA256", amd64.SHA256))
	flat := distsKey(b.repo.Prefix, "stable", "main/binary-amd64/Packages.gz")
	inRelease := distsKey(b.repo.Prefix, "stable", "InRelease")
	require.NoError(t, b.blob.Delete(b.ctx, byHash))
	stale := []byte("Package: stale\n")
	_, err = b.blob.Put(b.ctx, flat, bytes.NewReader(stale), int64(len(stale)), blob.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, b.blob.Delete(b.ctx, inRelease))

	report, err = w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "repaired 3 objects", report.Outcome, "%+v", report.Repairs)
	var keys []string
	for _, r := range report.Repairs {
		keys = append(keys, r.Key)
	}
	require.ElementsMatch(t, []string{byHash, flat, inRelease}, keys)
	require.Equal(t, round.InRelease, b.read(t, inRelease))
	packages := b.read(t, byHash)
	require.Equal(t, amd64.Size, int64(len(packages)))
	require.Contains(t, gunzip(t, packages), "Package: two")

	report, err = w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "ok", report.Outcome, "%+v", report.Repairs)

	third := b.publish(t, w, "three")
	require.Equal(t, third.InRelease, b.read(t, inRelease))
}

// TestReconcileNeverGoesBack: an InRelease in S3 newer than the database's
// generation (say, the database was restored from a backup) is reported,
// never overwritten with the older one.
func TestReconcileNeverGoesBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	b.publish(t, w, "one")
	key := distsKey(b.repo.Prefix, "stable", "InRelease")
	newer := b.inRelease(t, 9, "restored")
	_, err := b.blob.Put(b.ctx, key, bytes.NewReader(newer), int64(len(newer)), blob.PutOptions{})
	require.NoError(t, err)
	report, err := w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Contains(t, report.Outcome, "newer than the database")
	require.Equal(t, newer, b.read(t, key))
}

// TestGCKeepsGenerationsAndGrace: by-hash objects named by the last K
// generations stay, older ones go once past the grace period; a removed
// package's pool file goes, a held one stays.
func TestGCKeepsGenerationsAndGrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	var rounds []store.Round
	for i := range 5 {
		rounds = append(rounds, b.publish(t, w, "pkg"+string(rune('a'+i))))
	}
	byHashKeys := func() []string {
		var keys []string
		require.NoError(t, b.blob.List(b.ctx, distsKey(b.repo.Prefix, "stable", ""), func(i blob.Info) error {
			if strings.Contains(i.Key, "/by-hash/") {
				keys = append(keys, i.Key[strings.LastIndex(i.Key, "/")+1:])
			}
			return nil
		}))
		return keys
	}
	before := byHashKeys()

	// Within the grace period nothing goes, whatever the generation.
	w.cfg.KeepGenerations, w.cfg.GCGrace = 3, time.Hour
	n, err := w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.Zero(t, n)
	require.ElementsMatch(t, before, byHashKeys())

	// Past it, only what generations 3..5 name stays.
	w.cfg.GCGrace = time.Nanosecond
	n, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.Positive(t, n)
	after := byHashKeys()
	want := map[string]bool{}
	for _, r := range rounds[2:] {
		for _, f := range r.Files {
			if f.ListedOnly {
				continue
			}
			want[f.SHA256] = true
			require.Contains(t, after, f.SHA256, "generation %d's %s", r.Generation, f.Path)
		}
	}
	for _, k := range after {
		require.True(t, want[k], "%s is named by no kept generation", k)
	}
	require.Less(t, len(after), len(before))
	// The visible InRelease's files are all there: an observer would see no gap.
	visible := rounds[4]
	for _, f := range visible.Files {
		require.Equal(t, !f.ListedOnly, slices.Contains(after, f.SHA256), f.Path)
	}
}

// TestGCPool: the pool file of a package removed from every release goes
// after the grace period; one still held stays.
func TestGCPool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	b.publish(t, w, "held", "dropped")
	members, err := b.store.Members(b.ctx, b.release.ID, []string{"main"}, []string{"amd64", "all"})
	require.NoError(t, err)
	files := map[string]string{}
	for _, m := range members {
		files[m.Package.Name] = m.Filename
		_, err := b.blob.Put(b.ctx, b.repo.Prefix+m.Filename, bytes.NewReader([]byte("deb")), 3, blob.PutOptions{})
		require.NoError(t, err)
	}

	log := slog.New(slog.DiscardHandler)
	remove, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil,
		[]store.ChangeRemove{{Name: "dropped", Version: "1.0", Architecture: "amd64", Component: "main"}})
	require.NoError(t, err)
	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{remove}, log)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))

	exists := func(name string) bool {
		_, err := b.blob.Head(b.ctx, b.repo.Prefix+files[name])
		return err == nil
	}
	w.cfg.GCGrace = time.Hour
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.True(t, exists("dropped"), "removed within the grace period: kept")

	w.cfg.GCGrace = time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.False(t, exists("dropped"))
	require.True(t, exists("held"))
}

// TestGCAbandonedUploads: an upload left under the uploads prefix goes
// once older than the grace period. The test uses a prefix of its own, as
// other tests upload to the same bucket.
func TestGCAbandonedUploads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	prefix := store.UploadsPrefix + "test-" + systest.RandomHex(8) + "/"
	key := prefix + "abc-123"
	_, err := b.blob.Put(b.ctx, key, bytes.NewReader([]byte("deb")), 3, blob.PutOptions{})
	require.NoError(t, err)

	w.cfg.GCGrace = time.Hour
	n, err := w.collectUploads(b.ctx, prefix)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = b.blob.Head(b.ctx, key)
	require.NoError(t, err, "a recent upload stays")

	w.cfg.GCGrace = time.Nanosecond
	n, err = w.collectUploads(b.ctx, prefix)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = b.blob.Head(b.ctx, key)
	require.ErrorIs(t, err, blob.ErrNotFound)
}
