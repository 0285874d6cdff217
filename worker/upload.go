package worker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

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
// holds the same bytes. Each file's MD5 is set to the ETag S3 gives it: the
// MD5 of a single-request upload, which S3 computes anyway and accepted
// only after checking the body against the signed SHA-256, so aptq does not
// hash 17 MB once more. The next generation's conditional write of the flat
// file names this ETag.
func (w *PublishWorker) uploadByHash(ctx context.Context, prefix, release string, files []apt.IndexFile) error {
	etags := make([][2]string, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for i, f := range files {
		for j, h := range []struct{ algo, hex string }{{"SHA256", f.SHA256}, {"SHA512", f.SHA512}} {
			key := distsKey(prefix, release, apt.ByHashPath(f.Path, h.algo, h.hex))
			g.Go(func() error {
				info, err := w.cfg.Blob.Put(gctx, key, bytes.NewReader(f.Data), int64(len(f.Data)),
					blob.PutOptions{IfNoneMatch: true, SHA256: f.SHA256})
				if err != nil && !errors.Is(err, blob.ErrPrecondition) {
					return fmt.Errorf("upload %s: %w", key, err)
				}
				etags[i][j] = info.ETag
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := range files {
		files[i].MD5 = cmp.Or(etags[i][0], etags[i][1])
		if files[i].MD5 != "" {
			continue
		}
		// Both existed already (an earlier attempt of this round uploaded them).
		key := distsKey(prefix, release, apt.ByHashPath(files[i].Path, "SHA256", files[i].SHA256))
		info, err := w.cfg.Blob.Head(ctx, key)
		if err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
		files[i].MD5 = info.ETag
	}
	return nil
}

// upload publishes a committed round in the order that never shows a
// reader a broken repository: the pool files of its added packages (only
// now: a change is public once committed), flat index files (from the
// index cache if this worker cut the round, else copied from their by-hash
// objects; the by-hash objects went up when the round was cut, for the
// signer to fetch), Release and Release.gpg, then InRelease last,
// conditional on the ETag of the previous generation's.
func (w *PublishWorker) upload(ctx context.Context, lease store.Lease, round store.Round, log *slog.Logger) error {
	start := time.Now()
	rel, err := w.cfg.Store.ReleaseByID(ctx, w.cfg.Store.Pool, round.ReleaseID)
	if err != nil {
		return err
	}
	repo, err := w.repository(ctx, rel)
	if err != nil {
		return err
	}
	placed, err := w.placePool(ctx, repo.Prefix, round)
	if err != nil {
		return err
	}
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "pool", map[string]any{"files": placed}); err != nil {
		return err
	}
	prev, err := w.cfg.Store.ReleaseFiles(ctx, rel.ID, round.Generation-1)
	if err != nil {
		return err
	}
	prevByPath := make(map[string]store.IndexFile, len(prev))
	for _, f := range prev {
		prevByPath[f.Path] = f
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	var flat []string
	for _, f := range round.Files {
		old, had := prevByPath[f.Path]
		if had && old.SHA256 == f.SHA256 {
			continue
		}
		flat = append(flat, f.Path)
		g.Go(func() error {
			data := w.indexes.data(cacheKey{rel.ID, indexKeyOf(f.Path)}, f.Path, f.SHA256)
			if data == nil {
				var err error
				data, err = w.read(gctx, distsKey(repo.Prefix, rel.Name, apt.ByHashPath(f.Path, "SHA256", f.SHA256)))
				if err != nil {
					return err
				}
			}
			return w.replace(gctx, lease, distsKey(repo.Prefix, rel.Name, f.Path), data, f.SHA256, old.MD5)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "flat_indexes", map[string]any{"files": flat}); err != nil {
		return err
	}

	// Only the lease holder may replace the release's signed files; the
	// conditional writes below catch one that loses the lease after this check.
	if err := w.cfg.Store.RenewLease(ctx, lease, w.cfg.LeaseTTL); err != nil {
		return err
	}
	var prevRelease, prevGPG string
	if round.Generation > 1 {
		last, err := w.cfg.Store.RoundOfGeneration(ctx, rel.ID, round.Generation-1)
		if err != nil {
			return err
		}
		prevRelease, prevGPG = md5Hex(last.ReleaseBytes), md5Hex(last.ReleaseGPG)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() error {
		return w.replace(gctx, lease, distsKey(repo.Prefix, rel.Name, "Release"), round.ReleaseBytes, "", prevRelease)
	})
	g.Go(func() error {
		return w.replace(gctx, lease, distsKey(repo.Prefix, rel.Name, "Release.gpg"), round.ReleaseGPG, "", prevGPG)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "release", map[string]any{"files": []string{"Release", "Release.gpg"}}); err != nil {
		return err
	}

	etag, err := w.putInRelease(ctx, distsKey(repo.Prefix, rel.Name, "InRelease"), round, rel.InReleaseETag)
	if err != nil {
		return err
	}
	// Recorded as InRelease lands, before clients can see the round published.
	w.cfg.Metrics.Uploaded("publish", time.Since(start))
	w.cfg.Metrics.RoundPublished(time.Since(round.CreatedAt))
	if err := w.cfg.Store.PublishRound(ctx, round, etag); err != nil {
		return err
	}
	log.Info("round published")
	return nil
}

// replace writes data (of SHA-256 sha256, "" if not computed) at key over
// what the previous generation left there (prevMD5, the ETag S3 gives a
// single-part object; "" when there was none).
// A writer that lost the release (paused past its lease, while a newer
// generation was written) therefore cannot put an older file back. Finding
// this generation's content already there is success (a crashed holder
// wrote it). Finding anything else is drift, which only the lease holder
// may overwrite, conditionally on what it found.
func (w *PublishWorker) replace(ctx context.Context, lease store.Lease, key string, data []byte, sha256, prevMD5 string) error {
	want := md5Hex(data)
	opts := blob.PutOptions{IfMatch: prevMD5, IfNoneMatch: prevMD5 == "", SHA256: sha256}
	for attempt := 0; ; attempt++ {
		_, err := w.cfg.Blob.Put(ctx, key, bytes.NewReader(data), int64(len(data)), opts)
		if !errors.Is(err, blob.ErrPrecondition) {
			if err != nil {
				return fmt.Errorf("upload %s: %w", key, err)
			}
			return nil
		}
		info, err := w.cfg.Blob.Head(ctx, key)
		if err == nil && info.ETag == want {
			return nil
		}
		if attempt > 0 {
			return fmt.Errorf("upload %s: %w", key, errLostRelease)
		}
		if err := w.cfg.Store.RenewLease(ctx, lease, w.cfg.LeaseTTL); err != nil {
			return err
		}
		switch {
		case errors.Is(err, blob.ErrNotFound):
			opts = blob.PutOptions{IfNoneMatch: true, SHA256: sha256}
		case err != nil:
			return fmt.Errorf("upload %s: %w", key, err)
		default:
			opts = blob.PutOptions{IfMatch: info.ETag, SHA256: sha256}
		}
	}
}

// read returns a whole (index-sized) object.
func (w *PublishWorker) read(ctx context.Context, key string) ([]byte, error) {
	body, _, err := w.cfg.Blob.Get(ctx, key, "")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
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
