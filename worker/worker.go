// Package worker runs aptq's River workers: the publish round (lease, cut,
// signature wait, commit, ordered upload) for each release.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// Config wires the workers.
type Config struct {
	Store    *store.Store
	Blob     blob.Blob
	Listener *store.Listener
	Logger   *slog.Logger
	// Holder names this worker in lease rows; unique per process.
	Holder string
	// LeaseTTL is how long a lease lives without a heartbeat (default 30 s).
	LeaseTTL time.Duration
	// SignatureTimeout is how long a round waits for a signature (default 120 s).
	SignatureTimeout time.Duration
	// RoundBudget bounds how long one job keeps cutting further rounds for
	// its release before it hands the lease back (default 2 min).
	RoundBudget time.Duration
	// Snooze is the base delay of a job that finds its release's lease taken;
	// jitter of the same size is added (default 1 s).
	Snooze time.Duration
	// Partitions is the number of publish queues (for resume jobs).
	Partitions int
	// Metrics records rounds, uploads and takeovers; nil records nothing.
	Metrics *metrics.Metrics
	// MaintenanceInterval is how often every release is reconciled and every
	// repository garbage collected (default 10 min).
	MaintenanceInterval time.Duration
	// KeepGenerations is how many recent generations' by-hash objects garbage
	// collection keeps (default 3).
	KeepGenerations int
	// GCGrace is how old an object must be before garbage collection may
	// delete it (default 1 h).
	GCGrace time.Duration
	// IndexCacheBytes bounds the memory kept for the indexes of recent rounds
	// (see indexCache), and as much again for the Contents indexes (see
	// contentsCache); 0 means 256 MiB, negative means none.
	IndexCacheBytes int64
	// IndexMaxAge is the Cache-Control max-age of the files every round
	// replaces (InRelease, Release, Release.gpg, flat indexes): how long a
	// cache in front of the bucket may serve an old one (default 60 s).
	IndexMaxAge time.Duration
	// Stopping is closed when the process begins to shut down: a leader
	// finishes the round it is in, cuts no new one and hands the lease over
	// (see drain.go). Nil never closes.
	Stopping <-chan struct{}
}

// Defaults of Config, also the defaults of aptqd's flags.
const (
	DefaultLeaseTTL            = 30 * time.Second
	DefaultSignatureTimeout    = 120 * time.Second
	DefaultRoundBudget         = 2 * time.Minute
	DefaultMaintenanceInterval = 10 * time.Minute
	DefaultKeepGenerations     = 3
	DefaultGCGrace             = time.Hour
	DefaultIndexCacheBytes     = 256 << 20
	DefaultIndexMaxAge         = time.Minute
)

func (c *Config) setDefaults() {
	setDefault(&c.LeaseTTL, DefaultLeaseTTL)
	setDefault(&c.SignatureTimeout, DefaultSignatureTimeout)
	setDefault(&c.RoundBudget, DefaultRoundBudget)
	setDefault(&c.Snooze, time.Second)
	setDefault(&c.MaintenanceInterval, DefaultMaintenanceInterval)
	setDefault(&c.KeepGenerations, DefaultKeepGenerations)
	setDefault(&c.GCGrace, DefaultGCGrace)
	setDefault(&c.IndexCacheBytes, DefaultIndexCacheBytes)
	setDefault(&c.IndexMaxAge, DefaultIndexMaxAge)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// uploadAllowance is what a leader's job may take beyond its round budget
// and one round's signature wait: the round's upload.
const uploadAllowance = 5 * time.Minute

// rescueMargin is how much longer than the longest a live leader's job may
// run River waits before it rescues a job as stuck: a rescue must only ever
// find jobs of a dead process.
const rescueMargin = 5 * time.Minute

// JobTimeout is the longest a publish job may run: a leader's round budget,
// one round's signature wait and its upload.
func (c Config) JobTimeout() time.Duration {
	c.setDefaults()
	return c.RoundBudget + c.SignatureTimeout + uploadAllowance
}

// RescueStuckJobsAfter is River's setting of that name for these workers,
// derived from JobTimeout so that the two cannot drift apart.
func (c Config) RescueStuckJobsAfter() time.Duration {
	return c.JobTimeout() + rescueMargin
}

// PublishWorker works publish jobs: the job that holds the release's lease
// publishes every pending change of the release; the others wait for it.
type PublishWorker struct {
	river.WorkerDefaults[jobs.PublishArgs]
	cfg      Config
	indexes  *indexCache
	contents *contentsCache
}

// NewPublishWorker returns the publish worker.
func NewPublishWorker(cfg Config) *PublishWorker {
	cfg.setDefaults()
	return &PublishWorker{cfg: cfg, indexes: newIndexCache(cfg.IndexCacheBytes), contents: newContentsCache(cfg.IndexCacheBytes)}
}

// Register adds aptq's workers to a River worker set.
func Register(workers *river.Workers, cfg Config) {
	pub := NewPublishWorker(cfg)
	river.AddWorker(workers, pub)
	river.AddWorker(workers, &SweepWorker{cfg: pub.cfg})
	river.AddWorker(workers, &QueueSampleWorker{cfg: pub.cfg})
	river.AddWorker(workers, &MaintainWorker{pub: pub})
	river.AddWorker(workers, &ReconcileWorker{pub: pub})
	river.AddWorker(workers, &GCWorker{pub: pub})
	river.AddWorker(workers, &DeleteReleaseWorker{pub: pub})
	river.AddWorker(workers, &DeleteRepositoryWorker{pub: pub})
}

// SweepInterval is how often stalled releases are looked for.
const SweepInterval = 10 * time.Second

// PeriodicJobs are the maintenance jobs every worker process schedules
// (River runs each on one elected leader only).
func PeriodicJobs(cfg Config) []*river.PeriodicJob {
	cfg.setDefaults()
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(QueueSampleInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.QueueSampleArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(cfg.MaintenanceInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.MaintainArgs{}, nil }, nil),
	}
}

// Timeout is Config.JobTimeout.
func (w *PublishWorker) Timeout(*river.Job[jobs.PublishArgs]) time.Duration {
	return w.cfg.JobTimeout()
}

// Work publishes the job's change, or waits for the lease holder to. A job
// without a change (ChangeID 0, from the sweep) resumes the release's
// unfinished work if no one else holds the lease.
func (w *PublishWorker) Work(ctx context.Context, job *river.Job[jobs.PublishArgs]) error {
	return stopCause(ctx, w.work(ctx, job))
}

func (w *PublishWorker) work(ctx context.Context, job *river.Job[jobs.PublishArgs]) error {
	resume := job.Args.ChangeID == 0
	if !resume {
		change, err := w.cfg.Store.Change(ctx, job.Args.ChangeID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return river.JobCancel(fmt.Errorf("change %d no longer exists", job.Args.ChangeID))
			}
			return err
		}
		if done, err := finished(change); done {
			return err
		}
	}
	if w.stopping() {
		// A job fetched just before the stop: it leads nothing here, but
		// goes back to the queue for a process that stays.
		return river.JobSnooze(0)
	}
	led, err := w.leadRelease(ctx, job.Args.ReleaseID, job.ID)
	if err != nil {
		return err
	}
	if !led {
		if resume {
			return nil // someone leads the release: nothing to resume
		}
		return river.JobSnooze(w.cfg.Snooze + rand.N(w.cfg.Snooze))
	}
	if resume {
		return nil
	}

	change, err := w.cfg.Store.Change(ctx, job.Args.ChangeID)
	if err != nil {
		return err
	}
	if done, err := finished(change); done {
		return err
	}
	// Not published yet: the round budget ran out before its turn, another
	// job leads the release now, or this process is stopping (then another
	// process takes the job at once). Look again later.
	if w.stopping() {
		return river.JobSnooze(0)
	}
	return river.JobSnooze(w.cfg.Snooze)
}

// finished says whether a change has reached a final state, and the job's
// result for it: published completes the job; failed or cancelled cancels it
// with the reason (River does not retry cancelled jobs).
func finished(c store.Change) (bool, error) {
	switch c.State {
	case store.ChangePublished:
		return true, nil
	case store.ChangeFailed, store.ChangeCancelled:
		return true, river.JobCancel(fmt.Errorf("change %d %s: %s: %s", c.ID, c.State, c.ErrorCode, c.ErrorMessage))
	}
	return false, nil
}

// leadRelease leads the release's rounds if its lease is free, and reports
// whether it was. After handing the lease back it looks once more for
// pending changes and leads again if there are some: a change whose job
// found the lease taken just before the leader let go would otherwise wait
// for that job's snooze, up to two seconds.
func (w *PublishWorker) leadRelease(ctx context.Context, releaseID, jobID int64) (bool, error) {
	led := false
	for {
		lease, ok, err := w.cfg.Store.AcquireLease(ctx, releaseID, w.cfg.Holder, w.cfg.LeaseTTL)
		if err != nil || !ok {
			return led, err
		}
		led = true
		spent, err := w.holdLease(ctx, lease, jobID)
		if err != nil || spent || w.stopping() {
			return led, err
		}
		pending, err := w.cfg.Store.PendingChanges(ctx, w.cfg.Store.Pool, releaseID)
		if err != nil || len(pending) == 0 {
			return led, err
		}
	}
}

// holdLease leads the release's rounds under lease, then releases it. It
// reports whether the round budget ran out.
func (w *PublishWorker) holdLease(ctx context.Context, lease store.Lease, jobID int64) (bool, error) {
	log := w.cfg.Logger.With(slog.Int64("release_id", lease.ReleaseID), slog.Int64("job_id", jobID),
		slog.Int64("lease_token", lease.Token))
	log.Debug("lease acquired", slog.Bool("took_over", lease.TookOver))
	if lease.TookOver {
		w.cfg.Metrics.LeaseTakenOver()
	}
	defer func() {
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := w.cfg.Store.ReleaseLease(releaseCtx, lease); err != nil {
			log.Warn("release lease", slog.Any("error", err))
		}
		if w.stopping() {
			w.handOver(releaseCtx, lease, log)
		}
	}()
	ctx, stop := w.heartbeat(ctx, lease, log)
	defer stop()
	return w.lead(ctx, lease, log)
}

// lead runs rounds for the release while it holds the lease: first any
// unfinished round (a crashed holder's), then new rounds of every pending
// change, until none is left or the round budget is spent (it then says so).
func (w *PublishWorker) lead(ctx context.Context, lease store.Lease, log *slog.Logger) (bool, error) {
	start := time.Now()
	for {
		round, err := w.cfg.Store.OpenRound(ctx, lease.ReleaseID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if time.Since(start) > w.cfg.RoundBudget || w.stopping() {
				return true, nil
			}
			if err := w.cfg.Store.DropGonePending(ctx, lease.ReleaseID); err != nil {
				return false, err
			}
			pending, err := w.cfg.Store.PendingChanges(ctx, w.cfg.Store.Pool, lease.ReleaseID)
			if err != nil {
				return false, err
			}
			if len(pending) == 0 {
				return false, nil
			}
			round, err = w.cut(ctx, lease, pending, log)
			if store.ErrorCode(err) == store.CodeRetry {
				continue
			}
			if err != nil {
				return false, err
			}
		case err != nil:
			return false, err
		}
		if err := w.drive(ctx, lease, round, log); err != nil {
			return false, err
		}
	}
}

// heartbeat renews the lease every third of its TTL; when a renewal finds
// the lease lost, the returned context is cancelled so the holder stops.
func (w *PublishWorker) heartbeat(ctx context.Context, lease store.Lease, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := w.cfg.Store.RenewLease(ctx, lease, w.cfg.LeaseTTL)
			if errors.Is(err, store.ErrLeaseLost) {
				log.Warn("lease lost")
				cancel(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("renew lease", slog.Any("error", err))
			}
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}
