package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
)

// SweepWorker resumes releases whose leader died. The lease expires with
// the leader; the jobs of other changes of the release, snoozed, would take
// over on their own, but a release whose only job was the dead leader's
// would wait for River's rescuer. This sweep makes it a matter of seconds.
type SweepWorker struct {
	river.WorkerDefaults[jobs.SweepArgs]
	cfg        Config
	partitions int
}

// Work enqueues a resume job for every stalled release.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[jobs.SweepArgs]) error {
	ids, err := w.cfg.Store.StalledReleases(ctx)
	if err != nil {
		return err
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	for _, id := range ids {
		res, err := client.Insert(ctx, jobs.PublishArgs{ReleaseID: id}, jobs.ResumeOpts(id, w.partitions))
		if err != nil {
			return fmt.Errorf("enqueue resume of release %d: %w", id, err)
		}
		if !res.UniqueSkippedAsDuplicate {
			w.cfg.Logger.Info("resuming stalled release", slog.Int64("release_id", id), slog.Int64("job_id", res.Job.ID))
		}
	}
	return nil
}
