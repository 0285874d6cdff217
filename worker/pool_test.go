package worker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// recordingBlob records the keys written, in order.
type recordingBlob struct {
	blob.Blob
	mu     sync.Mutex
	writes []string
}

func (r *recordingBlob) Put(ctx context.Context, key string, body io.Reader, size int64, opts blob.PutOptions) (blob.Info, error) {
	info, err := r.Blob.Put(ctx, key, body, size, opts)
	if err == nil {
		r.mu.Lock()
		r.writes = append(r.writes, key)
		r.mu.Unlock()
	}
	return info, err
}

func (r *recordingBlob) Copy(ctx context.Context, src, dst string) (blob.Info, error) {
	info, err := r.Blob.Copy(ctx, src, dst)
	if err == nil {
		r.mu.Lock()
		r.writes = append(r.writes, dst)
		r.mu.Unlock()
	}
	return info, err
}

func (r *recordingBlob) written() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

// poolKey is the pool object of the change's first add.
func (b *bundle) poolKey(c store.Change) string { return b.repo.Prefix + c.Adds[0].Filename }

func (b *bundle) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := b.blob.Head(b.ctx, key)
	if err != nil {
		require.ErrorIs(t, err, blob.ErrNotFound)
	}
	return err == nil
}

// TestPoolPlacedAfterCommitBeforeIndexes: a package's pool file appears
// only once its change is committed (not when the round is cut, nor when it
// is signed), and then before any flat index, Release or InRelease of the
// round is written (DESIGN §4, G5).
func TestPoolPlacedAfterCommitBeforeIndexes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	rec := &recordingBlob{Blob: b.blob}
	w := b.worker("w")
	w.cfg.Blob = rec
	change := b.addChange(t, "ordered")
	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{change}, log)
	require.NoError(t, err)
	require.False(t, b.exists(t, b.poolKey(change)), "cut: not placed")
	round = b.signRound(t, round)
	require.False(t, b.exists(t, b.poolKey(change)), "signed: not placed")
	require.NoError(t, w.verifyAndCommit(b.ctx, lease, round, log))
	require.False(t, b.exists(t, b.poolKey(change)), "committed: placed by the upload")
	cut := len(rec.written())

	round, err = b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, round, log))
	writes := rec.written()[cut:]
	require.NotEmpty(t, writes)
	require.Equal(t, b.poolKey(change), writes[0], "the pool file goes first: %v", writes)
	require.Equal(t, distsKey(b.repo.Prefix, "stable", "InRelease"), writes[len(writes)-1])
	for _, k := range writes[1:] {
		require.NotContains(t, k, "/pool/")
	}
	require.Equal(t, b.read(t, store.PackageBlobKey(b.tenant.ID, shaOf(t, b, change))), b.read(t, b.poolKey(change)))
}

// TestPoolFailureKeepsInRelease: while a pool file cannot be placed (its
// uploaded package is unreadable), nothing of the round is published: no
// index, no InRelease; once it can, the resumed upload publishes (G5, G6).
func TestPoolFailureKeepsInRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	w := b.worker("w")
	change := b.addChange(t, "stuck")
	src := store.PackageBlobKey(b.tenant.ID, shaOf(t, b, change))
	deb := b.read(t, src)
	require.NoError(t, b.blob.Delete(b.ctx, src))

	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{change}, log)
	require.NoError(t, err)
	err = w.drive(b.ctx, lease, b.signRound(t, round), log)
	require.ErrorIs(t, err, blob.ErrNotFound)
	round, err = b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoundCommitted, round.State)
	for _, path := range []string{"InRelease", "Release", "main/binary-amd64/Packages.gz"} {
		require.False(t, b.exists(t, distsKey(b.repo.Prefix, "stable", path)), path)
	}

	_, err = b.blob.Put(b.ctx, src, bytes.NewReader(deb), int64(len(deb)), blob.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, round, log))
	require.Equal(t, deb, b.read(t, b.poolKey(change)))
	require.Equal(t, int64(1), generationOf(b.read(t, distsKey(b.repo.Prefix, "stable", "InRelease"))))
}

// TestPoolNeverOverwritten: an object with other bytes at a committed
// package's pool path is never replaced; the upload stops before any index
// names it, and reconcile reports it.
func TestPoolNeverOverwritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	w := b.worker("w")
	change := b.addChange(t, "squatted")
	other := []byte("not the package")
	_, err := b.blob.Put(b.ctx, b.poolKey(change), bytes.NewReader(other), int64(len(other)), blob.PutOptions{})
	require.NoError(t, err)

	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{change}, log)
	require.NoError(t, err)
	err = w.drive(b.ctx, lease, b.signRound(t, round), log)
	require.ErrorIs(t, err, errPoolDiffers)
	require.Equal(t, other, b.read(t, b.poolKey(change)))
	require.False(t, b.exists(t, distsKey(b.repo.Prefix, "stable", "InRelease")))
}

// TestReconcilePool: reconcile puts back a deleted pool file from the
// uploaded package, and reports (never overwrites) one replaced behind
// aptq's back.
func TestReconcilePool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	b.publish(t, w, "gone", "replaced", "fine")
	files, err := b.store.ReleasePoolFiles(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Len(t, files, 3)
	keys := map[string]string{}
	debs := map[string][]byte{}
	for _, f := range files {
		keys[f.Package.Name] = b.repo.Prefix + f.Filename
		debs[f.Package.Name] = b.read(t, keys[f.Package.Name])
	}
	require.NoError(t, b.blob.Delete(b.ctx, keys["gone"]))
	tampered := append(slices.Clone(debs["replaced"][:len(debs["replaced"])-1]), 'X') // same size, other MD5
	_, err = b.blob.Put(b.ctx, keys["replaced"], bytes.NewReader(tampered), int64(len(tampered)), blob.PutOptions{})
	require.NoError(t, err)

	report, err := w.reconcile(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, "repaired 1 objects; 1 pool files differ from their packages (not repaired)", report.Outcome)
	byKey := map[string]store.Repair{}
	for _, r := range report.Repairs {
		byKey[r.Key] = r
	}
	require.Len(t, byKey, 2)
	require.Equal(t, "missing", byKey[keys["gone"]].Problem)
	require.Contains(t, byKey[keys["replaced"]].Problem, "content differs")
	require.Contains(t, byKey[keys["replaced"]].Action, "not repaired")
	require.Equal(t, debs["gone"], b.read(t, keys["gone"]))
	require.Equal(t, tampered, b.read(t, keys["replaced"]))
	require.Equal(t, debs["fine"], b.read(t, keys["fine"]))
}

// TestGCKeepsPoolOfCommittedRound: a pool file older than the grace period
// (left by an earlier publish and collected too late) that a committed,
// not yet uploaded round needs is not collected; one no release holds is.
func TestGCKeepsPoolOfCommittedRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	w := b.worker("w")
	change := b.addChange(t, "returning")
	orphan := b.uploadPackage(t, debtest.Options{Package: "orphan", Version: "1.0", Architecture: "amd64"})
	orphanKey := b.repo.Prefix + apt.PoolPath("main", orphan.Source, orphan.Name, orphan.Version, orphan.Architecture)
	for key, p := range map[string]store.Package{b.poolKey(change): packageOf(t, b, change), orphanKey: orphan} {
		deb := b.read(t, store.PackageBlobKey(b.tenant.ID, p.SHA256))
		_, err := b.blob.Put(b.ctx, key, bytes.NewReader(deb), int64(len(deb)), blob.PutOptions{})
		require.NoError(t, err)
	}
	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{change}, log)
	require.NoError(t, err)
	require.NoError(t, w.verifyAndCommit(b.ctx, lease, b.signRound(t, round), log))

	w.cfg.GCGrace = time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.True(t, b.exists(t, b.poolKey(change)), "needed by the committed round")
	require.False(t, b.exists(t, orphanKey), "held by nothing")

	round, err = b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, round, log))
	var pool []string
	events := roundEvents(t, b, change.ID)
	for _, e := range events {
		if e.Kind == store.EventUploaded && e.Detail["step"] == "pool" {
			for _, f := range e.Detail["files"].([]any) {
				pool = append(pool, f.(string))
			}
		}
	}
	require.Equal(t, store.EventPublished, events[len(events)-1].Kind)
	require.Empty(t, pool, "found in place, not written again")
}

func packageOf(t *testing.T, b *bundle, c store.Change) store.Package {
	t.Helper()
	pkgs, err := b.store.PackagesByID(b.ctx, []int64{c.Adds[0].PackageID})
	require.NoError(t, err)
	return pkgs[c.Adds[0].PackageID]
}

func shaOf(t *testing.T, b *bundle, c store.Change) string { return packageOf(t, b, c).SHA256 }

func roundEvents(t *testing.T, b *bundle, changeID int64) []store.Event {
	t.Helper()
	events, err := b.store.Timeline(b.ctx, changeID)
	require.NoError(t, err)
	return events
}
