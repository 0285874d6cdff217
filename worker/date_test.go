package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
)

// TestReleaseDateStrictlyIncreases: apt ignores a Release whose Date is not
// newer than the one it has, so generation g+1's Date is later than g's even
// within one second, and even when g's Date is ahead of the clock (written
// by a machine whose clock ran fast).
func TestReleaseDateStrictlyIncreases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	dateOf := func(release []byte) time.Time {
		rel, err := apt.ParseRelease(release)
		require.NoError(t, err)
		return rel.Meta.Date
	}
	first := dateOf(b.publish(t, w, "one").ReleaseBytes)
	second := dateOf(b.publish(t, w, "two").ReleaseBytes)
	require.True(t, second.After(first), "%v then %v", first, second)

	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE releases SET release_date = $2 WHERE id = $1`, b.release.ID, future)
	require.NoError(t, err)
	third := dateOf(b.publish(t, w, "three").ReleaseBytes)
	require.Equal(t, future.Add(time.Second), third)
}
