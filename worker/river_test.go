package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// riverTx is a transaction the job under test lives in (rivertest works
// jobs inside one), rolled back at the end.
func (b *bundle) riverTx(t *testing.T) pgx.Tx {
	t.Helper()
	tx, err := b.store.Pool.Begin(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(b.ctx) })
	return tx
}

// TestPublishWorkOutcomes runs the publish worker's Work as River does
// (rivertest) and checks what River records of each outcome: a job whose
// change is gone is cancelled, one that finds the lease taken snoozes (no
// attempt spent), a resume with a leader already there completes, and the
// job that leads publishes its change and completes.
func TestPublishWorkOutcomes(t *testing.T) {
	t.Parallel()

	t.Run("change gone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w := b.worker("w")
		rw := rivertest.NewWorker(t, riverpgxv5.New(b.store.Pool), &river.Config{}, river.Worker[jobs.PublishArgs](w))
		res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.PublishArgs{ChangeID: 1 << 40, ReleaseID: b.release.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	})

	t.Run("lease taken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.lease(t, b.worker("other"))
		change := b.addChange(t, "waits")
		rw := rivertest.NewWorker(t, riverpgxv5.New(b.store.Pool), &river.Config{}, river.Worker[jobs.PublishArgs](b.worker("w")))
		res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.PublishArgs{ChangeID: change.ID, ReleaseID: b.release.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Zero(t, res.Job.Attempt, "a snooze spends no attempt")
		after, err := b.store.Change(b.ctx, change.ID)
		require.NoError(t, err)
		require.Equal(t, store.ChangePending, after.State)

		// A resume job finds the release led: nothing to do.
		res, err = rw.Work(b.ctx, t, b.riverTx(t), jobs.PublishArgs{ReleaseID: b.release.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	})

	t.Run("leads", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		change := b.addChange(t, "leads")
		signed := make(chan struct{})
		go func() {
			defer close(signed)
			b.signRound(t, b.waitRound(t, store.RoundAwaitingSignature))
		}()
		rw := rivertest.NewWorker(t, riverpgxv5.New(b.store.Pool), &river.Config{}, river.Worker[jobs.PublishArgs](b.worker("w")))
		res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.PublishArgs{ChangeID: change.ID, ReleaseID: b.release.ID}, nil)
		<-signed
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		after, err := b.store.Change(b.ctx, change.ID)
		require.NoError(t, err)
		require.Equal(t, store.ChangePublished, after.State)
	})
}

// TestSweepEnqueuesResume: the sweep enqueues one resume job, on the
// release's queue, for a release with a pending change and no lease, and
// none for a release whose lease is live.
func TestSweepEnqueuesResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	change := b.addChange(t, "stalled")
	// Stalled: older than the sweep's 10 s, as if its job had been lost.
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE changes SET updated_at = now() - interval '1 minute' WHERE id = $1`, change.ID)
	require.NoError(t, err)
	driver := riverpgxv5.New(b.store.Pool)
	cfg := Config{Store: b.store, Partitions: 4}
	cfg.setDefaults()
	rw := rivertest.NewWorker(t, driver, &river.Config{}, river.Worker[jobs.SweepArgs](&SweepWorker{cfg: cfg}))
	res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.SweepArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	job := rivertest.RequireInserted(b.ctx, t, driver, jobs.PublishArgs{ReleaseID: b.release.ID},
		&rivertest.RequireInsertedOpts{Queue: jobs.PublishQueue(b.release.ID, 4)})
	require.Zero(t, job.Args.ChangeID, "a resume carries no change")

	// Once a worker holds the lease, a sweep leaves the release alone.
	_, err = b.store.Pool.Exec(b.ctx, `DELETE FROM river_job WHERE kind = 'publish'`)
	require.NoError(t, err)
	b.lease(t, b.worker("live"))
	_, err = rw.Work(b.ctx, t, b.riverTx(t), jobs.SweepArgs{}, nil)
	require.NoError(t, err)
	rivertest.RequireNotInserted(b.ctx, t, driver, jobs.PublishArgs{ReleaseID: b.release.ID}, nil)
}

// TestMaintainEnqueues: the periodic maintenance job enqueues a reconcile
// of every release and one garbage collection per repository, on the
// maintenance queue.
func TestMaintainEnqueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	second, err := b.store.CreateRelease(b.ctx, store.Release{RepositoryID: b.repo.ID, Name: "testing",
		Suite: "testing", Codename: "testing", Components: []string{"main"}, Architectures: []string{"amd64"},
		Compressions: []string{"gz"}})
	require.NoError(t, err)
	driver := riverpgxv5.New(b.store.Pool)
	rw := rivertest.NewWorker(t, driver, &river.Config{}, river.Worker[jobs.MaintainArgs](&MaintainWorker{pub: b.worker("w")}))
	res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.MaintainArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	maintenance := &rivertest.RequireInsertedOpts{Queue: jobs.MaintenanceQueue}
	rows := rivertest.RequireManyInserted(b.ctx, t, driver, []rivertest.ExpectedJob{
		{Args: jobs.ReconcileArgs{}, Opts: maintenance}, {Args: jobs.ReconcileArgs{}, Opts: maintenance},
		{Args: jobs.GCArgs{}, Opts: maintenance}})
	var reconciled []int64
	for _, row := range rows[:2] {
		var a jobs.ReconcileArgs
		require.NoError(t, json.Unmarshal(row.EncodedArgs, &a))
		reconciled = append(reconciled, a.ReleaseID)
	}
	require.ElementsMatch(t, []int64{b.release.ID, second.ID}, reconciled)
	var gc jobs.GCArgs
	require.NoError(t, json.Unmarshal(rows[2].EncodedArgs, &gc))
	require.Equal(t, b.repo.ID, gc.RepositoryID)
}

// TestQueueSampleWorker: the sample job records the open jobs of the
// minute it runs in.
func TestQueueSampleWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addChange(t, "one")
	b.addChange(t, "two")
	before := time.Now().UTC().Truncate(time.Minute)
	rw := rivertest.NewWorker(t, riverpgxv5.New(b.store.Pool), &river.Config{},
		river.Worker[jobs.QueueSampleArgs](&QueueSampleWorker{cfg: Config{Store: b.store}}))
	res, err := rw.Work(b.ctx, t, b.riverTx(t), jobs.QueueSampleArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	var queued int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT jobs FROM queue_samples
		WHERE release_id = $1 AND state = 'queued' AND at >= $2 AND at <= now()`, b.release.ID, before).Scan(&queued))
	require.Equal(t, 2, queued)
}

// TestPeriodicJobsSample: a River client with aptq's periodic jobs and
// workers samples the queue as it starts (RunOnStart), on its elected
// leader, through the maintenance queue.
func TestPeriodicJobsSample(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addChange(t, "queued")
	cfg := Config{Store: b.store, Blob: b.blob, Listener: b.listener, Logger: slog.New(slog.DiscardHandler),
		Holder: "periodic-" + systest.RandomHex(3), Partitions: 1}
	workers := river.NewWorkers()
	Register(workers, cfg)
	client, err := river.NewClient(riverpgxv5.New(b.store.Pool), &river.Config{
		Logger: slog.New(slog.DiscardHandler), Workers: workers, PeriodicJobs: PeriodicJobs(cfg),
		Queues:            map[string]river.QueueConfig{jobs.MaintenanceQueue: {MaxWorkers: 2}},
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	require.NoError(t, client.Start(b.ctx))
	t.Cleanup(func() { _ = client.StopAndCancel(context.Background()) })
	timeout := time.After(30 * time.Second)
	for sampled := false; !sampled; {
		select {
		case ev := <-events:
			if ev.Job.Kind == (jobs.QueueSampleArgs{}).Kind() {
				require.Equal(t, river.EventKindJobCompleted, ev.Kind)
				sampled = true
			}
		case <-timeout:
			t.Fatal("no queue sample job ran within 30 s of the start")
		}
	}
	var queued int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `SELECT jobs FROM queue_samples
		WHERE release_id = $1 AND state = 'queued'`, b.release.ID).Scan(&queued))
	require.Equal(t, 1, queued)
}
