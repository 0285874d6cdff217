package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

// TestPublishRefusesUnverifiedRound: by default the CLI checks a round
// before signing it; one it cannot verify (here: a Release that is not the
// round's generation) is refused with exit 1, nothing is signed and the
// CLI's change is cancelled. --no-verify signs it.
func TestPublishRefusesUnverifiedRound(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	delete(b.env, "APTQ_NO_VERIFY")
	res := runCLI(t, b.env, "release", "resign", "--repo", "acme", "--release", "stable", "--key", b.keyPath)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "change 17 (job 17, by ci): no package changes")
	require.Contains(t, res.stderr, "refusing to sign round 9 (generation 42): the Release to sign says Aptq-Generation 0")
	seen := b.api.snapshot()
	require.Empty(t, seen.signatures)
	require.Equal(t, 1, seen.cancelled)

	res = runCLI(t, b.env, "release", "resign", "--repo", "acme", "--release", "stable", "--key", b.keyPath, "--no-verify")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Len(t, b.api.snapshot().signatures, 1)
}

// The client of a round's first change checks it at once; the others wait
// one step per change before theirs, up to maxStagger; a change the round
// does not list (a resign) waits for none.
func TestStaggerFor(t *testing.T) {
	t.Parallel()
	view := client.RoundView{}
	for id := int64(10); id < 40; id++ {
		view.Changes = append(view.Changes, client.RoundChange{ID: id})
	}
	require.Zero(t, staggerFor(view, 10))
	require.Equal(t, staggerStep, staggerFor(view, 11))
	require.Equal(t, 5*staggerStep, staggerFor(view, 15))
	require.Equal(t, maxStagger, staggerFor(view, 39))
	require.Zero(t, staggerFor(view, 99))
}
