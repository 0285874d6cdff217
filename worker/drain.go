package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// A worker process stops in two steps (cmd/aptqd runs River with a soft
// stop timeout a little under the drain timeout):
//   - Stopping closes and River stops fetching: a leader finishes the round
//     it is in but cuts no new one, lets the lease go and enqueues a resume
//     job, so that a worker of another process leads the release at once
//     instead of after the lease's expiry;
//   - past the soft stop timeout River cancels the jobs still running with
//     its stop cause: a leader then lets the lease go and hands over the
//     same way mid-round (the next leader resumes the round from the
//     database), and its job returns the cause, which River takes as an
//     interrupted job: available again at once, no attempt counted.
//
// River starts every job it fetches, so a stopping process holds no fetched
// job that has not started; the jobs waiting for a lease are snoozed in the
// queue, where any process takes them.

// stopping reports whether the process is shutting down.
func (w *PublishWorker) stopping() bool {
	select {
	case <-w.cfg.Stopping:
		return true
	default:
		return false
	}
}

// handOver enqueues a resume job for a release whose lease this stopping
// process just let go. Unique per lease, like a takeover's.
func (w *PublishWorker) handOver(ctx context.Context, lease store.Lease, log *slog.Logger) {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err == nil {
		err = enqueueResume(ctx, client, jobs.PublishArgs{ReleaseID: lease.ReleaseID, TakeOver: lease.Token}, w.cfg)
	}
	if err != nil {
		log.Warn("hand the release over", slog.Any("error", err))
		return
	}
	log.Info("lease handed over on shutdown")
}

// stopCause makes the error of a job whose context River cancelled to stop
// the process carry River's cause, whatever the error a query or an S3 call
// made of the cancellation: River then puts the job back without counting
// an attempt. Other errors pass unchanged.
func stopCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	if errors.As(err, &snooze) || errors.As(err, &cancel) {
		return err
	}
	return errors.Join(context.Cause(ctx), err)
}
