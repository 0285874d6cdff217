package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
)

// expirySlack is how long after a lease's expiry (by the database clock)
// the watcher looks again: enough for the clock to have passed it.
const expirySlack = 50 * time.Millisecond

// WatchLeases resumes the releases of a leader that died, as soon as its
// lease expires: it looks at once (a restarted worker finds what it or its
// peers left), at the expiry of every lease of unfinished work, and at least
// every third of the lease TTL, so that a lease taken since its last look is
// seen before it can expire. Each expired lease gets one resume job, whose
// worker takes the lease over and resumes the round from the database. The
// periodic sweep stays as a backstop; neither it nor River's rescue of stuck
// jobs (minutes) is on this path. It returns when ctx ends.
func WatchLeases(ctx context.Context, cfg Config, client *river.Client[pgx.Tx]) {
	cfg.setDefaults()
	for {
		wait := cfg.LeaseTTL / 3
		orphans, err := cfg.Store.OrphanedReleases(ctx)
		if err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("look for expired leases", slog.Any("error", err))
		}
		for _, l := range orphans.Expired {
			err := enqueueResume(ctx, client, jobs.PublishArgs{ReleaseID: l.ReleaseID, TakeOver: l.Token}, cfg)
			if err != nil && ctx.Err() == nil {
				cfg.Logger.Warn("take over release", slog.Int64("release_id", l.ReleaseID), slog.Any("error", err))
			}
		}
		if orphans.NextExpiry > 0 {
			wait = min(wait, orphans.NextExpiry+expirySlack)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// enqueueResume enqueues a resume job (ChangeID 0) for a release: a worker
// leads its unfinished work if no one else holds its lease.
func enqueueResume(ctx context.Context, client *river.Client[pgx.Tx], args jobs.PublishArgs, cfg Config) error {
	res, err := client.Insert(ctx, args, jobs.ResumeOpts(args.ReleaseID, cfg.Partitions))
	if err != nil {
		return fmt.Errorf("enqueue resume of release %d: %w", args.ReleaseID, err)
	}
	if !res.UniqueSkippedAsDuplicate {
		cfg.Logger.Info("resuming release", slog.Int64("release_id", args.ReleaseID),
			slog.Int64("job_id", res.Job.ID), slog.Int64("expired_lease", args.TakeOver))
	}
	return nil
}
