package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// GCWorker deletes a repository's S3 objects that nothing may name any
// more: by-hash index objects that none of a release's last KeepGenerations
// generations (nor an unfinished round) names, and pool files no release
// holds; both only once older than the grace period, so a client that read
// an older InRelease a moment ago still finds what it names.
type GCWorker struct {
	river.WorkerDefaults[jobs.GCArgs]
	pub *PublishWorker
}

// Work collects one repository's garbage.
func (w *GCWorker) Work(ctx context.Context, job *river.Job[jobs.GCArgs]) error {
	deleted, err := w.pub.collect(ctx, job.Args.RepositoryID)
	if deleted > 0 {
		w.pub.cfg.Logger.Info("garbage collected", slog.Int64("repository_id", job.Args.RepositoryID),
			slog.Int("deleted", deleted))
	}
	return err
}

// collect deletes what the repository no longer needs; it returns how many
// objects it deleted.
func (w *PublishWorker) collect(ctx context.Context, repoID int64) (int, error) {
	repo, err := w.cfg.Store.RepositoryByID(ctx, repoID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // deleted since the job was enqueued
	}
	if err != nil {
		return 0, err
	}
	now, err := w.cfg.Store.Now(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-w.cfg.GCGrace)
	rels, err := w.cfg.Store.Releases(ctx, repo.ID)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, rel := range rels {
		if rel.DeletingAt != nil {
			continue // its delete job removes all of it
		}
		inUse, err := w.cfg.Store.ByHashInUse(ctx, rel.ID, w.cfg.KeepGenerations)
		if err != nil {
			return deleted, err
		}
		listed, err := w.flatListed(ctx, rel)
		if err != nil {
			return deleted, err
		}
		n, err := w.deleteUnused(ctx, distsKey(repo.Prefix, rel.Name, ""), cutoff, func(key string) bool {
			i := strings.Index(key, "/by-hash/")
			if i < 0 {
				// Flat files and Release files are replaced, never collected,
				// but those of an index an update removed.
				return !isIndexKey(key) || listed[key[len(distsKey(repo.Prefix, rel.Name, "")):]]
			}
			return inUse[key[strings.LastIndex(key, "/")+1:]]
		})
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	n, err := w.collectPool(ctx, repo, cutoff)
	return deleted + n, err
}

// collectPool deletes the repository's pool files older than cutoff that
// no release holds, no unfinished change adds and no recent removal keeps.
// What is in use is read after the (long) listing, so a change accepted
// while it ran keeps its file; only one accepted, signed and committed
// during the deletes themselves could find its file gone, and reconcile
// puts that back from the uploaded package.
func (w *PublishWorker) collectPool(ctx context.Context, repo store.Repository, cutoff time.Time) (int, error) {
	old, err := w.listOlder(ctx, repo.Prefix+"pool/", cutoff)
	if err != nil {
		return 0, err
	}
	if len(old) == 0 {
		return 0, nil
	}
	inUse, err := w.cfg.Store.PoolInUse(ctx, repo.ID, w.cfg.GCGrace)
	if err != nil {
		return 0, err
	}
	old = slices.DeleteFunc(old, func(key string) bool { return inUse[strings.TrimPrefix(key, repo.Prefix)] })
	return w.deleteKeys(ctx, old)
}

// collectUploads deletes the uploads under prefix (store.UploadsPrefix in
// production) older than the grace period: an upload's object lives only
// while the API checks and copies it, so an old one belongs to an API
// process that died.
func (w *PublishWorker) collectUploads(ctx context.Context, prefix string) (int, error) {
	now, err := w.cfg.Store.Now(ctx)
	if err != nil {
		return 0, err
	}
	return w.deleteUnused(ctx, prefix, now.Add(-w.cfg.GCGrace), func(string) bool { return false })
}

// deleteUnused deletes the objects under prefix older than cutoff that keep
// does not claim.
func (w *PublishWorker) deleteUnused(ctx context.Context, prefix string, cutoff time.Time, keep func(key string) bool) (int, error) {
	old, err := w.listOlder(ctx, prefix, cutoff)
	if err != nil {
		return 0, err
	}
	return w.deleteKeys(ctx, slices.DeleteFunc(old, keep))
}

// listOlder lists the keys under prefix last modified before cutoff.
func (w *PublishWorker) listOlder(ctx context.Context, prefix string, cutoff time.Time) ([]string, error) {
	var old []string
	err := w.cfg.Blob.List(ctx, prefix, func(info blob.Info) error {
		if info.LastModified.Before(cutoff) {
			old = append(old, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return old, nil
}

// deleteKeys deletes keys and returns how many it deleted.
func (w *PublishWorker) deleteKeys(ctx context.Context, keys []string) (int, error) {
	for i, key := range keys {
		if err := w.cfg.Blob.Delete(ctx, key); err != nil {
			return i, fmt.Errorf("delete %s: %w", key, err)
		}
	}
	return len(keys), nil
}

// MaintainWorker fans the periodic maintenance out: a reconcile per
// release and a garbage collection per repository; it collects abandoned
// uploads itself.
type MaintainWorker struct {
	river.WorkerDefaults[jobs.MaintainArgs]
	pub *PublishWorker
}

// Work enqueues the maintenance jobs.
func (w *MaintainWorker) Work(ctx context.Context, _ *river.Job[jobs.MaintainArgs]) error {
	refs, err := w.pub.cfg.Store.ReleaseRefs(ctx)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	repos := map[int64]bool{}
	for _, ref := range refs {
		if _, err := client.Insert(ctx, jobs.ReconcileArgs{ReleaseID: ref.ID}, nil); err != nil {
			return fmt.Errorf("enqueue reconcile: %w", err)
		}
		repos[ref.RepositoryID] = true
	}
	for id := range repos {
		if _, err := client.Insert(ctx, jobs.GCArgs{RepositoryID: id}, nil); err != nil {
			return fmt.Errorf("enqueue gc: %w", err)
		}
	}
	if err := restartDeletes(ctx, w.pub.cfg.Store, client); err != nil {
		return err
	}
	n, err := w.pub.collectUploads(ctx, store.UploadsPrefix)
	if n > 0 {
		w.pub.cfg.Logger.Info("abandoned uploads collected", slog.Int("deleted", n))
	}
	return err
}

// isIndexKey says whether an object of dists/<release>/ belongs to an index
// directory (<component>/binary-<arch>/), not to the release itself.
func isIndexKey(key string) bool { return strings.Contains(key, "/binary-") }

// flatListed returns the index files S3 holds flat for the release's last
// committed and last published generations: any other flat file is of an
// index or a compression an update removed.
func (w *PublishWorker) flatListed(ctx context.Context, rel store.Release) (map[string]bool, error) {
	out := map[string]bool{}
	for _, gen := range []int64{rel.Generation, rel.PublishedGeneration} {
		if gen == 0 {
			continue
		}
		files, err := w.cfg.Store.ReleaseFiles(ctx, rel.ID, gen)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			out[f.Path] = out[f.Path] || !f.ListedOnly
		}
	}
	return out, nil
}

// restartDeletes enqueues the delete job of every release and repository
// whose delete was requested and not finished; a job still queued or
// running keeps its place (the jobs are unique), one that gave up (all
// attempts failed, e.g. through a long S3 outage) starts again.
func restartDeletes(ctx context.Context, st *store.Store, client *river.Client[pgx.Tx]) error {
	rels, repos, err := st.Deleting(ctx)
	if err != nil {
		return err
	}
	for _, id := range rels {
		if _, err := client.Insert(ctx, jobs.DeleteReleaseArgs{ReleaseID: id}, nil); err != nil {
			return fmt.Errorf("enqueue release delete: %w", err)
		}
	}
	for _, id := range repos {
		if _, err := client.Insert(ctx, jobs.DeleteRepositoryArgs{RepositoryID: id}, nil); err != nil {
			return fmt.Errorf("enqueue repository delete: %w", err)
		}
	}
	return nil
}
