package worker

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
)

// SweepWorker resumes releases whose leader died. The lease expires with
// the leader; the jobs of other changes of the release, snoozed, would take
// over on their own, but a release whose only job was the dead leader's
// would wait for River's rescuer. WatchLeases resumes such a release as its
// lease expires; this sweep is the backstop (e.g. a change whose job was
// lost before any lease was taken).
type SweepWorker struct {
	river.WorkerDefaults[jobs.SweepArgs]
	cfg Config
}

// Work enqueues a resume job for every stalled release.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[jobs.SweepArgs]) error {
	ids, err := w.cfg.Store.StalledReleases(ctx)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	for _, id := range ids {
		if err := enqueueResume(ctx, client, jobs.PublishArgs{ReleaseID: id}, w.cfg); err != nil {
			return err
		}
	}
	return nil
}
