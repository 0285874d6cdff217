package worker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// TestFencedCommit: a worker whose lease was taken over cannot commit its
// round; the new holder resumes the same round from the database and
// publishes it (G1, G6).
func TestFencedCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	change := b.addChange(t, "fenced")

	a := b.worker("a")
	leaseA, ok, err := b.store.AcquireLease(b.ctx, b.release.ID, "a", a.cfg.LeaseTTL)
	require.NoError(t, err)
	require.True(t, ok)
	round, err := a.cut(b.ctx, leaseA, []store.Change{change}, log)
	require.NoError(t, err)
	round = b.signRound(t, round)

	// A pauses past its TTL; B takes the lease with a larger token.
	b.expireLease(t)
	w := b.worker("b")
	leaseB, ok, err := b.store.AcquireLease(b.ctx, b.release.ID, "b", w.cfg.LeaseTTL)
	require.NoError(t, err)
	require.True(t, ok)
	require.Greater(t, leaseB.Token, leaseA.Token)
	require.False(t, leaseA.TookOver)
	require.True(t, leaseB.TookOver, "counted as a takeover in metrics")

	// A wakes up and tries to commit: refused by the fence, nothing changes.
	err = a.verifyAndCommit(b.ctx, leaseA, round, log)
	require.ErrorIs(t, err, store.ErrLeaseLost)
	rel, err := b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Zero(t, rel.Generation)
	stillSigned, err := b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoundSigned, stillSigned.State)

	// A cannot start uploading either: the lease check before the signed files fails.
	require.ErrorIs(t, a.upload(b.ctx, leaseA, stillSigned, log), store.ErrLeaseLost)

	// B resumes the round where A left it and publishes generation 1.
	require.NoError(t, w.drive(b.ctx, leaseB, stillSigned, log))
	published, err := b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoundPublished, published.State)
	got, err := b.store.Change(b.ctx, change.ID)
	require.NoError(t, err)
	require.Equal(t, store.ChangePublished, got.State)
	inRelease := b.read(t, distsKey(b.repo.Prefix, "stable", "InRelease"))
	require.Equal(t, round.Generation, generationOf(inRelease))
}

// TestStaleWriterCannotReplaceInRelease: a writer holding an old ETag (it
// lost the release while paused) cannot overwrite a newer InRelease; its
// conditional PUT loses and it never retries blindly (G1).
func TestStaleWriterCannotReplaceInRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("stale")
	key := distsKey(b.repo.Prefix, "stable", "InRelease")

	first, err := b.blob.Put(b.ctx, key, bytes.NewReader(b.inRelease(t, 1, "first")), -1, blob.PutOptions{IfNoneMatch: true})
	require.NoError(t, err)
	newer := b.inRelease(t, 2, "newer")
	_, err = b.blob.Put(b.ctx, key, bytes.NewReader(newer), int64(len(newer)), blob.PutOptions{IfMatch: first.ETag})
	require.NoError(t, err)

	// The stale writer still believes generation 1 (first.ETag) is current.
	stale := store.Round{Generation: 1, InRelease: b.inRelease(t, 1, "stale copy")}
	_, err = w.putInRelease(b.ctx, key, stale, &first.ETag)
	require.NoError(t, err, "a newer generation in S3 already carries the stale round's changes")
	require.Equal(t, newer, b.read(t, key))

	// A writer for a newer generation than S3's, but with a stale ETag, must
	// not overwrite what it did not expect: it reports the lost release.
	ahead := store.Round{Generation: 3, InRelease: b.inRelease(t, 3, "ahead")}
	_, err = w.putInRelease(b.ctx, key, ahead, &first.ETag)
	require.ErrorIs(t, err, errLostRelease)
	require.Equal(t, newer, b.read(t, key))

	// A first-time writer (If-None-Match: *) loses to any existing InRelease.
	_, err = w.putInRelease(b.ctx, key, ahead, nil)
	require.ErrorIs(t, err, errLostRelease)
	require.Equal(t, newer, b.read(t, key))
}

func (b *bundle) read(t *testing.T, key string) []byte {
	t.Helper()
	body, _, err := b.blob.Get(b.ctx, key, "")
	require.NoError(t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	return data
}

// TestStaleWriterCannotPutBackOlderFiles: a writer that lost the lease
// while paused cannot put an older generation's flat index or Release back
// over a newer one: its write is conditional on what the generation before
// its own left there (G1, G5).
func TestStaleWriterCannotPutBackOlderFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	first := b.publish(t, w, "one")
	staleLease := b.lease(t, w)
	b.expireLease(t)
	second := b.publish(t, b.worker("other"), "two")

	packages := distsKey(b.repo.Prefix, "stable", "main/binary-amd64/Packages.gz")
	release := distsKey(b.repo.Prefix, "stable", "Release")
	newPackages, newRelease := b.read(t, packages), b.read(t, release)
	require.Equal(t, second.ReleaseBytes, newRelease)

	oldPackages := []byte("Package: one\n") // what the stale writer of generation 1 would write
	err := w.replace(b.ctx, staleLease, packages, oldPackages, "", "")
	require.ErrorIs(t, err, store.ErrLeaseLost)
	err = w.replace(b.ctx, staleLease, release, first.ReleaseBytes, "", "")
	require.ErrorIs(t, err, store.ErrLeaseLost)
	require.Equal(t, newPackages, b.read(t, packages))
	require.Equal(t, newRelease, b.read(t, release))

	// Rewriting what is already there is not a conflict (a resumed round).
	require.NoError(t, w.replace(b.ctx, staleLease, release, second.ReleaseBytes, "", md5Hex(first.ReleaseBytes)))
}

// inRelease is an InRelease of generation gen, signed by the bundle's key.
func (b *bundle) inRelease(t *testing.T, gen int64, label string) []byte {
	t.Helper()
	in, _, err := sign.Sign([]byte(fmt.Sprintf("Label: %s\nAptq-Generation: %d\n", label, gen)), b.signer)
	require.NoError(t, err)
	return in
}
