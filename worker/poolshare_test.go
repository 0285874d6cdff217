package worker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// poolCalls records the calls on pool keys.
type poolCalls struct {
	blob.Blob
	mu    sync.Mutex
	calls []string
}

func (p *poolCalls) record(op, key string) {
	if strings.Contains(key, "/pool/") {
		p.mu.Lock()
		p.calls = append(p.calls, op+" "+key)
		p.mu.Unlock()
	}
}

func (p *poolCalls) Head(ctx context.Context, key string) (blob.Info, error) {
	p.record("HEAD", key)
	return p.Blob.Head(ctx, key)
}

func (p *poolCalls) Put(ctx context.Context, key string, body io.Reader, size int64, opts blob.PutOptions) (blob.Info, error) {
	p.record("PUT", key)
	return p.Blob.Put(ctx, key, body, size, opts)
}

// TestPoolSharedWithPublishedRelease: a round adding what another release
// of the repository has published (a copy) does not check its pool file in
// S3 again; while that release's last generation has not reached S3, it
// does, and it places a file no published release names.
func TestPoolSharedWithPublishedRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := slog.New(slog.DiscardHandler)
	published := b.publish(t, b.worker("w"), "shared")
	changes, err := b.store.RoundChanges(b.ctx, b.store.Pool, published.ID)
	require.NoError(t, err)
	shared := changes[0].Adds[0]
	fresh := b.uploadPackage(t, debtest.Options{Package: "fresh", Version: "1.0", Architecture: "amd64"})
	freshAdd := store.ChangeAdd{PackageID: fresh.ID, Component: "main", Architecture: "amd64",
		Filename: "pool/main/f/fresh/fresh_1.0_amd64.deb"}

	// copyInto publishes the shared package (and fresh, if asked) in a new
	// release and returns the pool calls its round made.
	copyInto := func(name string, adds ...store.ChangeAdd) []string {
		rel, err := b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: name, Origin: "o", Label: "l",
			Suite: name, Codename: name, Components: []string{"main"}, Architectures: []string{"amd64"}, Compressions: []string{"gz"}})
		require.NoError(t, err)
		c, err := b.store.InsertChange(b.ctx, b.store.Pool, rel.ID, nil, adds, nil)
		require.NoError(t, err)
		rec := &poolCalls{Blob: b.blob}
		w := b.worker("w-" + name)
		w.cfg.Blob = rec
		lease, ok, err := b.store.AcquireLease(b.ctx, rel.ID, w.cfg.Holder, w.cfg.LeaseTTL)
		require.NoError(t, err)
		require.True(t, ok)
		round, err := w.cut(b.ctx, lease, []store.Change{c}, log)
		require.NoError(t, err)
		require.NoError(t, w.drive(b.ctx, lease, b.signRound(t, round), log))
		round, err = b.store.RoundByID(b.ctx, round.ID)
		require.NoError(t, err)
		require.Equal(t, store.RoundPublished, round.State)
		return rec.calls
	}

	calls := copyInto("copy", shared, freshAdd)
	require.NotContains(t, strings.Join(calls, "\n"), shared.Filename, "published by stable: not checked again")
	require.Contains(t, calls, "HEAD "+b.repo.Prefix+freshAdd.Filename, "fresh is checked and placed")
	require.True(t, b.exists(t, b.repo.Prefix+freshAdd.Filename))

	// stable's next generation is committed but not in S3 yet: its files
	// may not be in place, so a copy checks them.
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE releases SET generation = generation + 1 WHERE id = $1`, b.release.ID)
	require.NoError(t, err)
	_, err = b.store.Pool.Exec(b.ctx, `UPDATE releases SET generation = generation + 1 WHERE name = 'copy'`)
	require.NoError(t, err)
	calls = copyInto("copy2", shared)
	require.Contains(t, calls, "HEAD "+b.repo.Prefix+shared.Filename)
}
