package worker

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

// TestSignatureTimeout: a round nobody signs fails at its deadline (by the
// database clock), its changes fail with signature_timeout and are not
// applied, and the next round proceeds.
func TestSignatureTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	w := b.worker("w")
	dead := b.addChange(t, "unsigned")
	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{dead}, log)
	require.NoError(t, err)

	// The CLI died: move the deadline into the past instead of waiting for it.
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE rounds SET signature_deadline = now() - interval '1 second' WHERE id = $1`, round.ID)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, round, log))

	got, err := b.store.Change(b.ctx, dead.ID)
	require.NoError(t, err)
	require.Equal(t, store.ChangeFailed, got.State)
	require.Equal(t, store.CodeSignatureTimeout, got.ErrorCode)
	failed, err := b.store.RoundByID(b.ctx, round.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoundFailed, failed.State)

	// The next change gets generation 1, without the failed one.
	next := b.addChange(t, "signed")
	round2, err := w.cut(b.ctx, lease, []store.Change{next}, log)
	require.NoError(t, err)
	require.Equal(t, int64(1), round2.Generation)
	require.NotContains(t, string(round2.ReleaseBytes), "unsigned")
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round2), log))
	members, err := b.store.Members(b.ctx, b.release.ID, []string{"main"}, []string{"amd64", "all"})
	require.NoError(t, err)
	require.Len(t, members, 1)
	require.Equal(t, "signed", members[0].Package.Name)
}

// TestCancelAbortsRound: cancelling one change of a round awaiting its
// signature aborts the round; the other changes go back to pending and the
// next round publishes them without the cancelled one.
func TestCancelAbortsRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	w := b.worker("w")
	keep, drop := b.addChange(t, "keep"), b.addChange(t, "drop")
	for i, c := range []store.Change{keep, drop} {
		require.NoError(t, b.store.SetChangeJob(b.ctx, b.store.Pool, c.ID, int64(1000+i)))
	}
	lease := b.lease(t, w)
	round, err := w.cut(b.ctx, lease, []store.Change{keep, drop}, log)
	require.NoError(t, err)

	require.NoError(t, b.store.CancelJob(b.ctx, b.tenant.ID, 1001, store.CancelReason{}))
	require.NoError(t, w.drive(b.ctx, lease, round, log), "an aborted round ends the drive quietly")
	for id, want := range map[int64]string{keep.ID: store.ChangePending, drop.ID: store.ChangeCancelled} {
		c, err := b.store.Change(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, c.State)
	}

	// lead() cuts the next round from what is pending; sign it as the CLI would.
	pending, err := b.store.PendingChanges(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	round2, err := w.cut(b.ctx, lease, pending, log)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round2), log))
	c, err := b.store.Change(b.ctx, keep.ID)
	require.NoError(t, err)
	require.Equal(t, store.ChangePublished, c.State)

	// A committed (here: published) change can no longer be cancelled.
	require.ErrorIs(t, b.store.CancelJob(b.ctx, b.tenant.ID, 1000, store.CancelReason{}), store.ErrConflict)
}

// TestTakeoverInEachState: a worker dies with its round in each state; once
// its lease expires another worker resumes the round from the database and
// publishes it (G6).
func TestTakeoverInEachState(t *testing.T) {
	t.Parallel()
	for _, state := range []string{store.RoundAwaitingSignature, store.RoundSigned, store.RoundCommitted} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			log := slog.New(slog.DiscardHandler)
			a := b.worker("a")
			change := b.addChange(t, "resumed")
			leaseA := b.lease(t, a)
			round, err := a.cut(b.ctx, leaseA, []store.Change{change}, log)
			require.NoError(t, err)
			if state != store.RoundAwaitingSignature {
				round = b.signRound(t, round)
			}
			if state == store.RoundCommitted {
				require.NoError(t, a.verifyAndCommit(b.ctx, leaseA, round, log))
			}
			// a dies here. Its lease expires; the sweep finds the release.
			b.expireLease(t)
			_, err = b.store.Pool.Exec(b.ctx, `UPDATE changes SET updated_at = now() - interval '1 minute'`)
			require.NoError(t, err)
			stalled, err := b.store.StalledReleases(b.ctx)
			require.NoError(t, err)
			require.Equal(t, []int64{b.release.ID}, stalled)

			bw := b.worker("b")
			leaseB := b.lease(t, bw)
			open, err := b.store.OpenRound(b.ctx, b.release.ID)
			require.NoError(t, err)
			require.Equal(t, state, open.State)
			if state == store.RoundAwaitingSignature {
				open = b.signRound(t, open) // the CLI signs the resumed round
			}
			require.NoError(t, bw.drive(b.ctx, leaseB, open, log))

			c, err := b.store.Change(b.ctx, change.ID)
			require.NoError(t, err)
			require.Equal(t, store.ChangePublished, c.State)
			require.Equal(t, round.Generation, generationOf(b.read(t, distsKey(b.repo.Prefix, "stable", "InRelease"))))
		})
	}
}
