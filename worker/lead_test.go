package worker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// TestLeaderLooksAgainAfterRelease: a change that turns pending just as
// the leader lets the lease go (its job found the lease taken a moment
// before, and snoozed) is published by that leader, which looks for
// pending changes once more after releasing. A trigger on the lease row's
// deletion makes the change pending at exactly that point.
func TestLeaderLooksAgainAfterRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	first := b.addChange(t, "first")
	late := b.addChange(t, "late")
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE changes SET state = 'cancelled' WHERE id = $1`, late.ID)
	require.NoError(t, err)
	_, err = b.store.Pool.Exec(b.ctx, fmt.Sprintf(`
		CREATE FUNCTION late_change() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE changes SET state = 'pending' WHERE id = %d AND state = 'cancelled';
			RETURN OLD;
		END $$;
		CREATE TRIGGER late_change BEFORE DELETE ON release_leases FOR EACH ROW EXECUTE FUNCTION late_change();`,
		late.ID))
	require.NoError(t, err)

	// The CLI's part: sign every round as it is offered.
	go func() {
		for {
			wake := b.listener.Wait(b.release.ID)
			if r, err := b.store.OpenRound(b.ctx, b.release.ID); err == nil && r.State == store.RoundAwaitingSignature {
				inRelease, releaseGPG, err := sign.Sign(r.ReleaseBytes, b.signer)
				if err == nil {
					_, err = b.store.SignRound(b.ctx, r.ID, r.Generation, inRelease, releaseGPG, []string{b.signer.Fingerprint()})
				}
				if err != nil {
					t.Errorf("sign round %d: %v", r.ID, err)
				}
			}
			select {
			case <-b.ctx.Done():
				return
			case <-wake:
			}
		}
	}()

	led, err := w.leadRelease(b.ctx, b.release.ID, 1)
	require.NoError(t, err)
	require.True(t, led)
	for _, c := range []store.Change{first, late} {
		got, err := b.store.Change(b.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, store.ChangePublished, got.State, "change %d", c.ID)
	}
	rel, err := b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.EqualValues(t, 2, rel.Generation, "the late change had a round of its own")
}
