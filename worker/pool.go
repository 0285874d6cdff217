package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// poolConcurrency bounds the pool files a round streams at once: each holds
// up to a few multipart parts in memory.
const poolConcurrency = 4

// debContentType is what pool files are served as.
const debContentType = "application/vnd.debian.binary-package"

// errPoolDiffers: a pool path holds other bytes than the package the
// database says it holds. Pool files are immutable, so aptq reports it and
// never overwrites one; an operator deletes the object and the next upload
// or reconcile puts the right one back.
var errPoolDiffers = errors.New("pool file holds other content than its package")

// placePool puts the pool files of a committed round in place, before any
// index or InRelease of the round is written. It is the one place pool
// files are written for a publish (submit, rollback and retry alike), so a
// package of a change that never commits is never placed; a worker that
// resumes the round runs it again, finding the files there. Files another
// release has published already are not checked again (a copy shares
// them): see store.RoundPoolFilesToPlace.
//
// It returns the files it wrote and their bytes.
func (w *PublishWorker) placePool(ctx context.Context, prefix string, round store.Round) ([]string, int64, error) {
	files, err := w.cfg.Store.RoundPoolFilesToPlace(ctx, round.ID)
	if err != nil {
		return nil, 0, err
	}
	// A source's other files: ensurePoolFile finds those already there
	// (an orig tarball another revision placed).
	sourceFiles, err := w.cfg.Store.RoundSourceFiles(ctx, round.ID)
	if err != nil {
		return nil, 0, err
	}
	files = append(files, sourceFiles...)
	placed := make([]bool, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(poolConcurrency)
	for i, f := range files {
		g.Go(func() error {
			var err error
			placed[i], err = w.ensurePoolFile(gctx, prefix+f.Filename, f.Package)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	names := []string{}
	var size int64
	for i, f := range files {
		if placed[i] {
			names = append(names, f.Filename)
			size += f.Package.Size
		}
	}
	return names, size, nil
}

// ensurePoolFile puts package p at key unless it is there already, and
// says whether it wrote it. The write is create-only (If-None-Match: *):
// versitygw ignores a destination condition on CopyObject (it reads only
// the x-amz-copy-source-if-* ones), so the bytes are streamed from the
// uploaded package into a conditional PUT rather than copied server-side,
// signed with the package's SHA-256 where they go out in one request.
// The database claims each pool path for one content, so whoever else
// creates it writes the same bytes; anything else found there is reported.
func (w *PublishWorker) ensurePoolFile(ctx context.Context, key string, p store.Package) (bool, error) {
	info, err := w.cfg.Blob.Head(ctx, key)
	switch {
	case err == nil:
		return false, checkPoolFile(key, info, p)
	case !errors.Is(err, blob.ErrNotFound):
		return false, fmt.Errorf("check pool file %s: %w", key, err)
	}
	src := store.PackageBlobKey(p.TenantID, p.SHA256)
	body, _, err := w.cfg.Blob.Get(ctx, src, "")
	if err != nil {
		return false, fmt.Errorf("read uploaded package %s for %s: %w", src, key, err)
	}
	defer body.Close()
	_, err = w.cfg.Blob.Put(ctx, key, body, p.Size, blob.PutOptions{IfNoneMatch: true, SHA256: p.SHA256,
		ContentType: debContentType, CacheControl: immutableCacheControl})
	if errors.Is(err, blob.ErrPrecondition) {
		info, err := w.cfg.Blob.Head(ctx, key)
		if err != nil {
			return false, fmt.Errorf("check pool file %s: %w", key, err)
		}
		return false, checkPoolFile(key, info, p)
	}
	if err != nil {
		return false, fmt.Errorf("place pool file %s: %w", key, err)
	}
	return true, nil
}

// checkPoolFile compares a pool object with its package: the size, and the
// MD5 where the ETag is one (a multipart upload's ETag is not).
func checkPoolFile(key string, info blob.Info, p store.Package) error {
	if poolFileMatches(info, p) {
		return nil
	}
	return fmt.Errorf("%s (%d bytes, ETag %s; want %d bytes, MD5 %s): %w", key, info.Size, info.ETag, p.Size, p.MD5, errPoolDiffers)
}

func poolFileMatches(info blob.Info, p store.Package) bool {
	return info.Size == p.Size && (info.ETag == p.MD5 || strings.Contains(info.ETag, "-"))
}
