package jobs_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/store/storetest"
)

// kinded is every job args type aptq enqueues.
var kinded = []river.JobArgs{
	jobs.PublishArgs{}, jobs.SweepArgs{}, jobs.QueueSampleArgs{}, jobs.MaintainArgs{}, jobs.ReconcileArgs{}, jobs.GCArgs{},
	jobs.DeleteReleaseArgs{}, jobs.DeleteRepositoryArgs{},
}

// TestKindsDistinct: each job kind has its own name, which River stores
// with every job and looks its worker up by: two kinds sharing one would
// run one's jobs with the other's worker.
func TestKindsDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, a := range kinded {
		require.NotEmpty(t, a.Kind())
		require.False(t, seen[a.Kind()], "kind %q twice", a.Kind())
		seen[a.Kind()] = true
	}
}

// TestPublishQueue: a release always hashes to the same queue, one of
// PublishQueues; releases spread over them.
func TestPublishQueue(t *testing.T) {
	t.Parallel()
	queues := jobs.PublishQueues(16)
	require.Len(t, queues, 16)
	used := map[string]bool{}
	for id := int64(1); id <= 200; id++ {
		q := jobs.PublishQueue(id, 16)
		require.Contains(t, queues, q)
		require.Equal(t, q, jobs.PublishQueue(id, 16))
		used[q] = true
	}
	require.Greater(t, len(used), 12, "200 releases use most of 16 queues")
	require.Equal(t, "publish_00", jobs.PublishQueue(7, 0), "no partitions means one queue")
}

type insertBundle struct {
	ctx    context.Context
	driver *riverpgxv5.Driver
	client *river.Client[pgx.Tx]
}

func setup(t *testing.T) insertBundle {
	t.Helper()
	st := storetest.NewStore(t)
	driver := riverpgxv5.New(st.Pool)
	client, err := river.NewClient(driver, &river.Config{})
	require.NoError(t, err)
	return insertBundle{ctx: t.Context(), driver: driver, client: client}
}

// TestInsertOpts: each kind lands on its queue with its attempts, as River
// stores it.
func TestInsertOpts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	publish := jobs.PublishArgs{ChangeID: 5, ReleaseID: 9}
	_, err := b.client.Insert(b.ctx, publish, publish.QueueOpts(16))
	require.NoError(t, err)
	rivertest.RequireInserted(b.ctx, t, b.driver, publish,
		&rivertest.RequireInsertedOpts{Queue: jobs.PublishQueue(9, 16), MaxAttempts: 25})

	for _, tt := range []struct {
		args        river.JobArgs
		maxAttempts int
	}{
		{jobs.SweepArgs{}, 1}, {jobs.QueueSampleArgs{}, 1}, {jobs.MaintainArgs{}, 1}, {jobs.ReconcileArgs{ReleaseID: 9}, 3}, {jobs.GCArgs{RepositoryID: 3}, 3},
		{jobs.DeleteReleaseArgs{ReleaseID: 9}, 25}, {jobs.DeleteRepositoryArgs{RepositoryID: 3}, 25},
	} {
		_, err := b.client.Insert(b.ctx, tt.args, nil)
		require.NoError(t, err)
		rivertest.RequireManyInserted(b.ctx, t, b.driver, []rivertest.ExpectedJob{{Args: tt.args,
			Opts: &rivertest.RequireInsertedOpts{Queue: jobs.MaintenanceQueue, MaxAttempts: tt.maxAttempts}}})
	}
}

// TestUniqueness: a second reconcile, GC, resume or delete of the same
// target while the first waits is skipped; another target's is not. A
// delete is one per target whoever asks (the actor is not part of it).
func TestUniqueness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	insert := func(args river.JobArgs, opts *river.InsertOpts) bool {
		t.Helper()
		res, err := b.client.Insert(b.ctx, args, opts)
		require.NoError(t, err)
		return res.UniqueSkippedAsDuplicate
	}
	for _, tt := range []struct {
		name          string
		first, second river.JobArgs
		opts          func(river.JobArgs) *river.InsertOpts
		duplicate     bool
	}{
		{name: "reconcile", first: jobs.ReconcileArgs{ReleaseID: 1}, second: jobs.ReconcileArgs{ReleaseID: 1}, duplicate: true},
		{name: "reconcile of another release", first: jobs.ReconcileArgs{ReleaseID: 2}, second: jobs.ReconcileArgs{ReleaseID: 3}},
		{name: "gc", first: jobs.GCArgs{RepositoryID: 1}, second: jobs.GCArgs{RepositoryID: 1}, duplicate: true},
		{name: "delete release, other actor", first: jobs.DeleteReleaseArgs{ReleaseID: 1, Actor: jobs.Actor{TokenID: 1}},
			second: jobs.DeleteReleaseArgs{ReleaseID: 1, Actor: jobs.Actor{TokenID: 2}}, duplicate: true},
		{name: "delete repository", first: jobs.DeleteRepositoryArgs{RepositoryID: 1},
			second: jobs.DeleteRepositoryArgs{RepositoryID: 1}, duplicate: true},
		{name: "delete of another repository", first: jobs.DeleteRepositoryArgs{RepositoryID: 2},
			second: jobs.DeleteRepositoryArgs{RepositoryID: 3}},
		{name: "resume", first: jobs.PublishArgs{ReleaseID: 1}, second: jobs.PublishArgs{ReleaseID: 1}, duplicate: true,
			opts: func(a river.JobArgs) *river.InsertOpts { return jobs.ResumeOpts(a.(jobs.PublishArgs).ReleaseID, 16) }},
		{name: "resume of another dead lease", first: jobs.PublishArgs{ReleaseID: 2, TakeOver: 1},
			second: jobs.PublishArgs{ReleaseID: 2, TakeOver: 2},
			opts:   func(a river.JobArgs) *river.InsertOpts { return jobs.ResumeOpts(a.(jobs.PublishArgs).ReleaseID, 16) }},
		{name: "changes are never unique", first: jobs.PublishArgs{ReleaseID: 4, ChangeID: 1},
			second: jobs.PublishArgs{ReleaseID: 4, ChangeID: 1},
			opts:   func(a river.JobArgs) *river.InsertOpts { return a.(jobs.PublishArgs).QueueOpts(16) }},
	} {
		var first, second *river.InsertOpts
		if tt.opts != nil {
			first, second = tt.opts(tt.first), tt.opts(tt.second)
		}
		require.False(t, insert(tt.first, first), tt.name)
		require.Equal(t, tt.duplicate, insert(tt.second, second), tt.name)
	}
}
