package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// uploadConcurrency bounds the S3 requests a round has in flight.
const uploadConcurrency = 8

func distsKey(prefix, release, path string) string {
	return prefix + "dists/" + release + "/" + path
}

// Cache-Control of the objects a round writes (DESIGN.md §4): content-
// addressed ones never change; the flat indexes and the Release files
// change every round, so a cache in front of the bucket keeps them briefly.
const immutableCacheControl = "public, max-age=31536000, immutable"

func (w *PublishWorker) indexCacheControl() string {
	return "public, max-age=" + strconv.Itoa(int(w.cfg.IndexMaxAge/time.Second))
}

// byHashUploader produces a round's index files concurrently and puts each
// one S3 is to hold under by-hash/SHA256 as soon as it is produced. These
// objects are content-addressed: create-only, and one that exists already
// holds the same bytes.
type byHashUploader struct {
	w               *PublishWorker
	ctx             context.Context
	prefix, release string
	g               *errgroup.Group
	bytes           atomic.Int64
}

func (w *PublishWorker) newByHashUploader(ctx context.Context, prefix, release string) *byHashUploader {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	return &byHashUploader{w: w, ctx: gctx, prefix: prefix, release: release, g: g}
}

// produce runs build, stores its file in dst and, if upload, puts it.
func (u *byHashUploader) produce(build func() (apt.IndexFile, error), dst *apt.IndexFile, upload bool) {
	u.g.Go(func() error {
		f, err := build()
		if err != nil {
			return err
		}
		*dst = f
		if !upload {
			return nil
		}
		key := distsKey(u.prefix, u.release, apt.ByHashPath(f.Path, "SHA256", f.SHA256))
		_, err = u.w.cfg.Blob.Put(u.ctx, key, bytes.NewReader(f.Data), int64(len(f.Data)),
			blob.PutOptions{IfNoneMatch: true, SHA256: f.SHA256, CacheControl: immutableCacheControl})
		switch {
		case errors.Is(err, blob.ErrPrecondition):
			return nil // an earlier attempt of this round put it
		case err != nil:
			return fmt.Errorf("upload %s: %w", key, err)
		}
		u.bytes.Add(int64(len(f.Data)))
		return nil
	})
}

// wait returns once every file is produced and put, with the bytes written.
func (u *byHashUploader) wait() (int64, error) {
	err := u.g.Wait()
	return u.bytes.Load(), err
}

// abandon waits for what is under way and drops its result.
func (u *byHashUploader) abandon() { _ = u.g.Wait() }

// upload publishes a committed round in the order that never shows a
// reader a broken repository: the pool files of its added packages (only
// now: a change is public once committed), the flat index files S3 holds
// (from the index cache if this worker cut the round, else copied from
// their by-hash objects; the by-hash objects went up when the round was
// cut, for the signer to fetch), Release and Release.gpg, then InRelease
// last, conditional on the ETag of the previous generation's.
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
	placed, poolBytes, err := w.placePool(ctx, repo.Prefix, round)
	if err != nil {
		return err
	}
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "pool", map[string]any{"files": placed, "bytes": poolBytes}); err != nil {
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
	var flat, stale []string
	var flatBytes int64
	for _, f := range round.Files {
		old, had := prevByPath[f.Path]
		if had && old.ListedOnly {
			old = store.IndexFile{}
		}
		if f.ListedOnly {
			if old.SHA256 != "" {
				stale = append(stale, f.Path)
			}
			continue
		}
		if old.SHA256 == f.SHA256 {
			continue
		}
		flat = append(flat, f.Path)
		flatBytes += f.Size
		g.Go(func() error {
			data := w.cachedData(rel.ID, f.Path, f.SHA256)
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
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "flat_indexes", map[string]any{"files": flat, "bytes": flatBytes}); err != nil {
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
	releaseBytes := int64(len(round.ReleaseBytes) + len(round.ReleaseGPG))
	if err := w.cfg.Store.RoundUploadStep(ctx, round.ID, "release", map[string]any{"files": []string{"Release", "Release.gpg"},
		"bytes": releaseBytes}); err != nil {
		return err
	}

	etag, err := w.putInRelease(ctx, distsKey(repo.Prefix, rel.Name, "InRelease"), round, rel.InReleaseETag)
	if err != nil {
		return err
	}
	// Recorded as InRelease lands, before clients can see the round published.
	w.cfg.Metrics.Uploaded("publish", time.Since(start))
	w.cfg.Metrics.RoundPublished(time.Since(round.CreatedAt))
	w.cfg.Metrics.RoundUploadBytes(round.ByHashBytes + poolBytes + flatBytes + releaseBytes + int64(len(round.InRelease)))
	if err := w.cfg.Store.PublishRound(ctx, round, etag); err != nil {
		return err
	}
	w.deleteStale(ctx, repo.Prefix, rel.Name, stale, log)
	log.Info("round published")
	return nil
}

// deleteStale deletes the flat files an older generation stored and this
// one only lists (the uncompressed Packages of the layout before aptq
// stopped storing it): apt never fetches them, and left in place they would
// disagree with the Release. A failure only leaves such a file behind.
func (w *PublishWorker) deleteStale(ctx context.Context, prefix, release string, paths []string, log *slog.Logger) {
	for _, p := range paths {
		if err := w.cfg.Blob.Delete(ctx, distsKey(prefix, release, p)); err != nil {
			log.Warn("stale flat index left in place", slog.String("path", p), slog.Any("error", err))
		}
	}
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
	cc := w.indexCacheControl()
	opts := blob.PutOptions{IfMatch: prevMD5, IfNoneMatch: prevMD5 == "", SHA256: sha256, CacheControl: cc}
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
			opts = blob.PutOptions{IfNoneMatch: true, SHA256: sha256, CacheControl: cc}
		case err != nil:
			return fmt.Errorf("upload %s: %w", key, err)
		default:
			opts = blob.PutOptions{IfMatch: info.ETag, SHA256: sha256, CacheControl: cc}
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
	opts := blob.PutOptions{IfNoneMatch: true, CacheControl: w.indexCacheControl()}
	if prevETag != nil {
		opts = blob.PutOptions{IfMatch: *prevETag, CacheControl: opts.CacheControl}
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

// generationOf is the Aptq-Generation of an InRelease found in S3; 0 when
// it is not a clearsigned Release that names one. Its signature is not
// checked: only aptq writes there, and a higher number only makes a writer
// stand down, never publish.
func generationOf(inRelease []byte) int64 {
	text, err := sign.ClearsignedText(inRelease)
	if err != nil {
		return 0
	}
	rel, err := apt.ParseRelease(text)
	if err != nil {
		return 0
	}
	return rel.Meta.Generation
}
