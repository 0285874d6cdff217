package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/verify"
)

// byHashFetcher reads a release's by-hash objects from S3, as the signer
// does through the public read path.
type byHashFetcher struct {
	b *bundle
}

func (f byHashFetcher) ByHash(ctx context.Context, dir, sum string, _ int64) ([]byte, error) {
	rc, _, err := f.b.blob.Get(ctx, distsKey(f.b.repo.Prefix, "stable", dir+"/by-hash/SHA256/"+sum), "")
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", dir, sum, verify.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestUpdateRound: a round carrying a release update publishes the
// release as updated (fields, options, a new architecture with the arch
// all packages, a removed one, a new compression), passes the signer's
// check with exactly the listed update, commits the settings, and the
// garbage collection then removes the removed index's flat files.
func TestUpdateRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	log := slog.New(slog.DiscardHandler)
	lease := b.lease(t, w)
	first, err := w.cut(b.ctx, lease, []store.Change{b.addArchChange(t, "indep", "all"), b.addChange(t, "one")}, log)
	require.NoError(t, err)
	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, first), log))
	first, err = b.store.RoundByID(b.ctx, first.ID)
	require.NoError(t, err)

	label, yes := "New Label", true
	settings := store.ReleaseSettings{Label: &label, NotAutomatic: &yes, AddArchitectures: []string{"riscv64"},
		RemoveArchitectures: []string{"arm64"}, Compressions: []string{"gz", "xz"}}
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, nil, nil)
	require.NoError(t, err)
	require.NoError(t, b.store.SetChangeSettings(b.ctx, b.store.Pool, c.ID, settings))
	pending, err := b.store.PendingChanges(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	round, err := w.cut(b.ctx, lease, pending, log)
	require.NoError(t, err)
	text := string(round.ReleaseBytes)
	require.Contains(t, text, "Label: New Label\n")
	require.Contains(t, text, "NotAutomatic: yes\n")
	require.Contains(t, text, "Architectures: amd64 riscv64\n")
	require.Contains(t, text, "main/binary-riscv64/Packages.xz")
	require.Contains(t, text, "main/binary-amd64/Packages.xz", "a new compression regenerates every index")
	require.NotContains(t, text, "binary-arm64")

	update := &verify.Update{Fields: map[string]string{"Label": label, "NotAutomatic": "yes"},
		AddArchitectures: []string{"riscv64"}, RemoveArchitectures: []string{"arm64"}}
	pub, err := b.signer.PublicArmored()
	require.NoError(t, err)
	check := func(u *verify.Update) error {
		return verify.Check(b.ctx, verify.Config{PublicKeys: [][]byte{pub}, Now: time.Now()}, verify.Round{ID: round.ID,
			Generation: round.Generation, Release: round.ReleaseBytes, PreviousInRelease: first.InRelease,
			Changes: []verify.Change{{ID: c.ID, Update: u}}}, byHashFetcher{b})
	}
	require.NoError(t, check(update))
	require.ErrorContains(t, check(nil), "changes Label")
	require.ErrorContains(t, check(&verify.Update{Fields: map[string]string{"Label": label}}), "adds field NotAutomatic")

	require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))
	require.NoError(t, b.store.ReleaseLease(b.ctx, lease))
	rel, err := b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, round.Generation, rel.Generation)
	require.Equal(t, label, rel.Label)
	require.True(t, rel.NotAutomatic)
	require.Equal(t, []string{"amd64", "riscv64"}, rel.Architectures)
	require.Equal(t, []string{"gz", "xz"}, rel.Compressions)
	riscv := gunzip(t, b.read(t, distsKey(b.repo.Prefix, "stable", "main/binary-riscv64/Packages.gz")))
	require.Contains(t, riscv, "Package: indep")
	require.NotContains(t, riscv, "Package: one")

	arm64 := distsKey(b.repo.Prefix, "stable", "main/binary-arm64/Packages.gz")
	w.cfg.GCGrace = time.Hour
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.Contains(t, b.keys(t, arm64), arm64, "kept within the grace period")
	w.cfg.GCGrace = time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.Empty(t, b.keys(t, arm64), "the removed index's flat file is collected")
	require.NotEmpty(t, b.keys(t, distsKey(b.repo.Prefix, "stable", "main/binary-amd64/Packages.gz")))
	require.NotEmpty(t, b.keys(t, distsKey(b.repo.Prefix, "stable", "InRelease")))
}

// failingDeletes fails every delete of a key that contains one of the
// substrings, as an S3 outage in the middle of a delete would.
type failingDeletes struct {
	blob.Blob
	substr string
}

func (f failingDeletes) Delete(ctx context.Context, key string) error {
	if strings.Contains(key, f.substr) {
		return fmt.Errorf("injected failure deleting %s", key)
	}
	return f.Blob.Delete(ctx, key)
}

// TestDeleteReleaseResumes: a delete interrupted while it removes the
// indexes has already removed InRelease, Release and Release.gpg (apt
// sees a clean 404, never an InRelease naming missing files); run again
// it finishes: nothing left under dists/stable/, the rows gone, the
// release's pool files collected after the grace, and a release of the
// same name starts over at generation 1.
func TestDeleteReleaseResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker("w")
	b.publish(t, w, "one")
	b.publish(t, w, "two")
	dists := distsKey(b.repo.Prefix, "stable", "")
	before := b.keys(t, dists)
	require.Contains(t, before, dists+"InRelease")
	pool := b.keys(t, b.repo.Prefix+"pool/")
	require.Len(t, pool, 2)

	tx, err := b.store.Pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.store.RequestReleaseDelete(b.ctx, tx, b.release.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))

	broken := b.worker("crashing")
	broken.cfg.Blob = failingDeletes{Blob: b.blob, substr: "/binary-"}
	rel, err := b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err)
	_, err = broken.deleteRelease(b.ctx, b.repo, rel)
	require.ErrorContains(t, err, "injected failure")
	left := b.keys(t, dists)
	for _, name := range releaseFirst {
		require.NotContains(t, left, dists+name, "%s goes before any index", name)
	}
	require.NotEmpty(t, left)
	for _, k := range left {
		require.Contains(t, k, "/binary-", "only indexes are left: %s", k)
	}
	_, err = b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.NoError(t, err, "the row stays until S3 is clean")

	done, err := w.deleteRelease(b.ctx, b.repo, rel)
	require.NoError(t, err)
	require.True(t, done)
	require.Empty(t, b.keys(t, dists))
	_, err = b.store.ReleaseByID(b.ctx, b.store.Pool, b.release.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	var rows int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT (SELECT count(*) FROM rounds WHERE release_id = $1) +
		(SELECT count(*) FROM changes WHERE release_id = $1) + (SELECT count(*) FROM release_files WHERE release_id = $1)`,
		b.release.ID).Scan(&rows))
	require.Zero(t, rows)

	w.cfg.GCGrace = time.Hour
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, pool, b.keys(t, b.repo.Prefix+"pool/"), "kept for the grace period")
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE pool_removals SET removed_at = now() - interval '2 hours' WHERE repository_id = $1`, b.repo.ID)
	require.NoError(t, err)
	w.cfg.GCGrace = time.Nanosecond
	_, err = w.collect(b.ctx, b.repo.ID)
	require.NoError(t, err)
	require.Empty(t, b.keys(t, b.repo.Prefix+"pool/"), "no release holds them: collected")

	b.release, err = b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: "stable",
		Origin: "o", Label: "l", Suite: "stable", Codename: "stable",
		Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	require.Zero(t, b.release.Generation)
	again := b.publish(t, w, "three")
	require.Equal(t, int64(1), again.Generation)
	keys := b.keys(t, dists)
	require.False(t, slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "binary-arm64") }),
		"nothing of the deleted release is left: %v", keys)
}

// TestRestartDeletes: maintenance enqueues the delete job of a release
// whose delete was requested and not finished, once however often it runs
// (the job is unique while queued), and none for other releases.
func TestRestartDeletes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other, err := b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: "other",
		Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	tx, err := b.store.Pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.store.RequestReleaseDelete(b.ctx, tx, b.release.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))

	client, err := river.NewClient(riverpgxv5.New(b.store.Pool), &river.Config{})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, restartDeletes(b.ctx, b.store, client))
	}
	rows, err := b.store.Pool.Query(b.ctx, `SELECT (args->>'release_id')::bigint FROM river_job WHERE kind = 'delete_release'`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, []int64{b.release.ID}, ids)
	require.NotEqual(t, other.ID, ids[0])
}
