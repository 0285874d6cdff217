package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// uploadConcurrency bounds the S3 requests a round has in flight.
const uploadConcurrency = 8

func distsKey(prefix, release, path string) string {
	return prefix + "dists/" + release + "/" + path
}

// uploadByHash puts every new index file under by-hash/SHA256 and
// by-hash/SHA512 (apt fetches the strongest hash the Release lists). These
// objects are content-addressed: create-only, and one that exists already
// holds the same bytes.
func (w *PublishWorker) uploadByHash(ctx context.Context, prefix, release string, files []apt.IndexFile) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for _, f := range files {
		for _, h := range []struct{ algo, hex string }{{"SHA256", f.SHA256}, {"SHA512", f.SHA512}} {
			key := distsKey(prefix, release, apt.ByHashPath(f.Path, h.algo, h.hex))
			g.Go(func() error {
				_, err := w.cfg.Blob.Put(ctx, key, bytes.NewReader(f.Data), int64(len(f.Data)), blob.PutOptions{IfNoneMatch: true})
				if err != nil && !errors.Is(err, blob.ErrPrecondition) {
					return fmt.Errorf("upload %s: %w", key, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// upload publishes a committed round in the order that never shows a
// reader a broken repository: flat index files (copied from their by-hash
// objects), Release and Release.gpg, then InRelease last, conditional on the
// ETag of the previous generation's.
func (w *PublishWorker) upload(ctx context.Context, lease store.Lease, round store.Round, log *slog.Logger) error {
	rel, err := w.cfg.Store.ReleaseByID(ctx, w.cfg.Store.Pool, round.ReleaseID)
	if err != nil {
		return err
	}
	repo, err := w.repository(ctx, rel)
	if err != nil {
		return err
	}
	prev, err := w.cfg.Store.ReleaseFiles(ctx, rel.ID, round.Generation-1)
	if err != nil {
		return err
	}
	unchanged := make(map[string]string, len(prev))
	for _, f := range prev {
		unchanged[f.Path] = f.SHA256
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for _, f := range round.Files {
		if unchanged[f.Path] == f.SHA256 {
			continue
		}
		src := distsKey(repo.Prefix, rel.Name, apt.ByHashPath(f.Path, "SHA256", f.SHA256))
		dst := distsKey(repo.Prefix, rel.Name, f.Path)
		g.Go(func() error {
			if _, err := w.cfg.Blob.Copy(gctx, src, dst); err != nil {
				return fmt.Errorf("copy %s: %w", dst, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	// Only the lease holder may replace the release's signed files.
	if err := w.cfg.Store.RenewLease(ctx, lease, w.cfg.LeaseTTL); err != nil {
		return err
	}
	for _, obj := range []struct {
		name string
		data []byte
	}{{"Release", round.ReleaseBytes}, {"Release.gpg", round.ReleaseGPG}} {
		key := distsKey(repo.Prefix, rel.Name, obj.name)
		if _, err := w.cfg.Blob.Put(ctx, key, bytes.NewReader(obj.data), int64(len(obj.data)), blob.PutOptions{}); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
	}

	etag, err := w.putInRelease(ctx, distsKey(repo.Prefix, rel.Name, "InRelease"), round, rel.InReleaseETag)
	if err != nil {
		return err
	}
	if err := w.cfg.Store.PublishRound(ctx, round, etag); err != nil {
		return err
	}
	log.Info("round published")
	return nil
}

// putInRelease replaces InRelease only if it is still the one this release
// last published (prevETag; nil: none yet), and returns the new ETag.
func (w *PublishWorker) putInRelease(ctx context.Context, key string, round store.Round, prevETag *string) (string, error) {
	opts := blob.PutOptions{IfNoneMatch: true}
	if prevETag != nil {
		opts = blob.PutOptions{IfMatch: *prevETag}
	}
	info, err := w.cfg.Blob.Put(ctx, key, bytes.NewReader(round.InRelease), int64(len(round.InRelease)), opts)
	if errors.Is(err, blob.ErrPrecondition) {
		return w.resolveInReleaseConflict(ctx, key, round)
	}
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", key, err)
	}
	return info.ETag, nil
}

// resolveInReleaseConflict decides what a lost conditional InRelease PUT
// means. If S3 already holds this round's InRelease (a previous holder
// uploaded it and died before recording it) or a newer generation (which
// includes this round's changes), the round is published. Anything else is
// another writer: never overwrite it blindly; reconcile repairs drift.
func (w *PublishWorker) resolveInReleaseConflict(ctx context.Context, key string, round store.Round) (string, error) {
	body, info, err := w.cfg.Blob.Get(ctx, key, "")
	if err != nil {
		return "", fmt.Errorf("read InRelease after a lost conditional PUT: %w", err)
	}
	defer body.Close()
	current, err := io.ReadAll(io.LimitReader(body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("read InRelease after a lost conditional PUT: %w", err)
	}
	if bytes.Equal(current, round.InRelease) || generationOf(current) >= round.Generation {
		return info.ETag, nil
	}
	return "", errLostRelease
}

// generationOf reads the Aptq-Generation field of a (clearsigned) Release; 0 when absent.
func generationOf(release []byte) int64 {
	for _, line := range bytes.Split(release, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Aptq-Generation:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
