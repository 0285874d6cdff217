package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// DeleteReleaseWorker removes a release whose delete was requested. Each
// step may run again: a job retried after an error, or rescued after its
// worker died, resumes where the last one stopped.
type DeleteReleaseWorker struct {
	river.WorkerDefaults[jobs.DeleteReleaseArgs]
	pub *PublishWorker
}

// deleteTimeout bounds one attempt of a delete job; a release or a pool
// too large to delete in one attempt is finished by the next ones, each
// step resuming where the last stopped. It stays under River's rescue of
// stuck jobs (Config.RescueStuckJobsAfter), whatever the configuration.
const deleteTimeout = 10 * time.Minute

// Timeout is deleteTimeout: River's default of one minute is short for
// listing and deleting a large release.
func (w *DeleteReleaseWorker) Timeout(*river.Job[jobs.DeleteReleaseArgs]) time.Duration {
	return deleteTimeout
}

// Timeout is deleteTimeout, as for a release.
func (w *DeleteRepositoryWorker) Timeout(*river.Job[jobs.DeleteRepositoryArgs]) time.Duration {
	return deleteTimeout
}

// Work deletes the release, under its lease so that no reconcile puts
// back what it removes.
func (w *DeleteReleaseWorker) Work(ctx context.Context, job *river.Job[jobs.DeleteReleaseArgs]) error {
	rel, err := w.pub.cfg.Store.ReleaseByID(ctx, w.pub.cfg.Store.Pool, job.Args.ReleaseID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // an earlier attempt finished
	}
	if err != nil {
		return err
	}
	if rel.DeletingAt == nil {
		return river.JobCancel(fmt.Errorf("release %d is not being deleted", rel.ID))
	}
	repo, err := w.pub.repository(ctx, rel)
	if err != nil {
		return err
	}
	done, err := w.pub.deleteRelease(withActor(ctx, job.Args.Actor), repo, rel)
	if err == nil && !done {
		return river.JobSnooze(w.pub.cfg.Snooze)
	}
	return err
}

// DeleteRepositoryWorker removes a repository whose delete was requested:
// its releases one by one, then every object under its prefix, then its
// rows. It resumes as DeleteReleaseWorker does.
type DeleteRepositoryWorker struct {
	river.WorkerDefaults[jobs.DeleteRepositoryArgs]
	pub *PublishWorker
}

// Work deletes the repository.
func (w *DeleteRepositoryWorker) Work(ctx context.Context, job *river.Job[jobs.DeleteRepositoryArgs]) error {
	ctx = withActor(ctx, job.Args.Actor)
	repo, err := w.pub.cfg.Store.RepositoryByID(ctx, job.Args.RepositoryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	rels, err := w.pub.cfg.Store.Releases(ctx, repo.ID)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		done, err := w.pub.deleteRelease(ctx, repo, rel)
		if err != nil {
			return err
		}
		if !done {
			return river.JobSnooze(w.pub.cfg.Snooze)
		}
	}
	// What is left under the prefix is the pool, which no release names now.
	if _, err := w.pub.deleteUnder(ctx, repo.Prefix); err != nil {
		return err
	}
	if err := w.pub.cfg.Store.FinishRepositoryDelete(ctx, repo.ID); err != nil {
		return err
	}
	w.pub.cfg.Logger.Info("repository deleted", slog.Int64("repository_id", repo.ID), slog.String("repo", repo.Name))
	return nil
}

// withActor makes the job's writes audited as the token that asked for it.
func withActor(ctx context.Context, a jobs.Actor) context.Context {
	if a.TenantID == 0 {
		return ctx
	}
	return store.WithActor(ctx, store.Actor{TenantID: a.TenantID, TokenID: a.TokenID, TokenName: a.TokenName})
}

// releaseFirst are the objects of dists/<release>/ a delete removes first,
// in order: InRelease, so that apt sees a clean 404 for the release from
// the first step on (never an InRelease naming missing indexes, which is
// a Hash Sum mismatch), then the Release files apt falls back to.
var releaseFirst = []string{"InRelease", "Release.gpg", "Release"}

// deleteRelease removes the release from S3 (releaseFirst, then its
// indexes and by-hash objects) and then from the database, holding its
// lease; done is false when someone else holds the lease now.
func (w *PublishWorker) deleteRelease(ctx context.Context, repo store.Repository, rel store.Release) (done bool, err error) {
	lease, ok, err := w.cfg.Store.AcquireLease(ctx, rel.ID, w.cfg.Holder, w.cfg.LeaseTTL)
	if err != nil || !ok {
		return false, err
	}
	defer func() {
		// Gone with the release row once the delete is finished.
		_ = w.cfg.Store.ReleaseLease(context.WithoutCancel(ctx), lease)
	}()
	ctx, stop := w.heartbeat(ctx, lease, w.cfg.Logger)
	defer stop()
	for _, name := range releaseFirst {
		if err := w.cfg.Blob.Delete(ctx, distsKey(repo.Prefix, rel.Name, name)); err != nil {
			return false, fmt.Errorf("delete %s of release %s: %w", name, rel.Name, err)
		}
	}
	if _, err := w.deleteUnder(ctx, distsKey(repo.Prefix, rel.Name, "")); err != nil {
		return false, err
	}
	if err := w.cfg.Store.FinishReleaseDelete(ctx, rel.ID); err != nil {
		return false, err
	}
	w.cfg.Logger.Info("release deleted", slog.Int64("release_id", rel.ID), slog.String("release", rel.Name),
		slog.Int64("generation", rel.Generation))
	return true, nil
}

// deleteUnder deletes every object whose key starts with prefix.
func (w *PublishWorker) deleteUnder(ctx context.Context, prefix string) (int, error) {
	var keys []string
	err := w.cfg.Blob.List(ctx, prefix, func(info blob.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", prefix, err)
	}
	return w.deleteKeys(ctx, keys)
}
