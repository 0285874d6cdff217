package worker

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store"
)

// drainRig is one worker process's River client on the bundle's database,
// with a Stopping channel and a soft stop timeout, and a publish job of
// one change that it leads.
type drainRig struct {
	client   *river.Client[pgx.Tx]
	stopping chan struct{}
	change   store.Change
	jobID    int64
	round    store.Round
}

func (b *bundle) startDrainRig(t *testing.T, softStop time.Duration) *drainRig {
	t.Helper()
	r := &drainRig{stopping: make(chan struct{})}
	cfg := Config{Store: b.store, Blob: b.blob, Listener: b.listener, Logger: slog.New(slog.DiscardHandler),
		Holder: "draining-" + systest.RandomHex(3), LeaseTTL: 30 * time.Second, SignatureTimeout: time.Minute,
		Partitions: 1, Stopping: r.stopping}
	workers := river.NewWorkers()
	river.AddWorker(workers, NewPublishWorker(cfg))
	var err error
	r.client, err = river.NewClient(riverpgxv5.New(b.store.Pool), &river.Config{
		Logger: slog.New(slog.DiscardHandler), Workers: workers, SoftStopTimeout: softStop,
		Queues:            map[string]river.QueueConfig{jobs.PublishQueue(b.release.ID, 1): {MaxWorkers: 2}},
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	r.change = b.addChange(t, "drain-"+systest.RandomHex(3))
	args := jobs.PublishArgs{ChangeID: r.change.ID, ReleaseID: b.release.ID}
	res, err := r.client.Insert(b.ctx, args, args.QueueOpts(1))
	require.NoError(t, err)
	r.jobID = res.Job.ID
	require.NoError(t, b.store.SetChangeJob(b.ctx, b.store.Pool, r.change.ID, r.jobID))
	require.NoError(t, r.client.Start(b.ctx))
	t.Cleanup(func() { _ = r.client.StopAndCancel(context.Background()) })
	r.round = b.waitRound(t, store.RoundAwaitingSignature)
	return r
}

// waitRound waits for the release's open round to be in state.
func (b *bundle) waitRound(t *testing.T, state string) store.Round {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		wake := b.listener.Wait(b.release.ID)
		r, err := b.store.OpenRound(b.ctx, b.release.ID)
		if err == nil && r.State == state {
			return r
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			require.NoError(t, err)
		}
		select {
		case <-wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no round %s", state)
	return store.Round{}
}

// jobRow reads what River holds of a job.
func (b *bundle) jobRow(t *testing.T, id int64) (state string, attempt int, errs int) {
	t.Helper()
	require.NoError(t, b.store.Pool.QueryRow(b.ctx,
		`SELECT state, attempt, coalesce(array_length(errors, 1), 0) FROM river_job WHERE id = $1`, id).Scan(&state, &attempt, &errs))
	return state, attempt, errs
}

// handOvers counts the resume jobs a stopping leader enqueued for the
// release: one per lease it let go.
func (b *bundle) handOvers(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool.QueryRow(b.ctx, `
		SELECT count(*) FROM river_job WHERE kind = 'publish' AND (args->>'change_id')::bigint = 0
		  AND (args->>'release_id')::bigint = $1 AND (args->>'take_over')::bigint > 0`, b.release.ID).Scan(&n))
	return n
}

func (b *bundle) leaseHeld(t *testing.T) bool {
	t.Helper()
	var held bool
	require.NoError(t, b.store.Pool.QueryRow(b.ctx,
		`SELECT EXISTS (SELECT 1 FROM release_leases WHERE release_id = $1)`, b.release.ID).Scan(&held))
	return held
}

// TestDrainFinishesRound: a worker told to stop while it leads a round
// finishes that round (its signature comes within the drain), cuts no new
// one for a change that arrived meanwhile, lets the lease go and enqueues
// a resume job for the next leader; its job completes and River stops.
func TestDrainFinishesRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.startDrainRig(t, 30*time.Second)
	later := b.addChange(t, "later")

	close(r.stopping)
	stopped := make(chan error, 1)
	go func() { stopped <- r.client.Stop(context.Background()) }()
	b.signRound(t, r.round)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(25 * time.Second):
		t.Fatal("River did not stop after the round")
	}

	got, err := b.store.Change(b.ctx, r.change.ID)
	require.NoError(t, err)
	require.Equal(t, store.ChangePublished, got.State, "the round in flight is finished")
	got, err = b.store.Change(b.ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, store.ChangePending, got.State, "no new round is cut while stopping")
	state, _, _ := b.jobRow(t, r.jobID)
	require.Equal(t, "completed", state)
	require.False(t, b.leaseHeld(t), "the lease is let go")
	require.Equal(t, 1, b.handOvers(t), "a resume job hands the release over")
}

// TestDrainTimeoutHandsOver: a leader whose round cannot finish within the
// soft stop (no signature comes) is cancelled by River: it lets the lease
// go at once (no one waits for its expiry), enqueues a resume job, and its
// own job goes back to the queue with no attempt counted and no error.
func TestDrainTimeoutHandsOver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.startDrainRig(t, 500*time.Millisecond)
	_, attemptBefore, _ := b.jobRow(t, r.jobID)

	close(r.stopping)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, r.client.Stop(ctx))

	require.False(t, b.leaseHeld(t), "the lease is let go, not left to expire")
	require.Equal(t, 1, b.handOvers(t), "a resume job hands the release over")
	state, attempt, errs := b.jobRow(t, r.jobID)
	require.Equal(t, "available", state, "the job is back in the queue")
	require.Equal(t, attemptBefore-1, attempt, "no attempt counted")
	require.Zero(t, errs, "no error recorded")
	open, err := b.store.OpenRound(b.ctx, b.release.ID)
	require.NoError(t, err)
	require.Equal(t, r.round.ID, open.ID, "the round stays for the next leader to resume")
}
