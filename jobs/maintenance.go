package jobs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// MaintainArgs is the periodic fan-out: it enqueues a reconcile of every
// release and a garbage collection of every repository.
type MaintainArgs struct{}

// Kind is River's name for the job kind.
func (MaintainArgs) Kind() string { return "maintain" }

// InsertOpts runs it on the maintenance queue.
func (MaintainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 1}
}

// ReconcileArgs checks that S3 holds exactly what a release's last committed
// generation names, and repairs what differs.
type ReconcileArgs struct {
	ReleaseID int64 `json:"release_id"`
}

// Kind is River's name for the job kind.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts runs reconciles on the maintenance queue, one per release at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 3, UniqueOpts: uniqueWhileQueued()}
}

// GCArgs deletes a repository's S3 objects that nothing may name any more.
type GCArgs struct {
	RepositoryID int64 `json:"repository_id"`
}

// Kind is River's name for the job kind.
func (GCArgs) Kind() string { return "gc" }

// InsertOpts runs garbage collection on the maintenance queue.
func (GCArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 3, UniqueOpts: uniqueWhileQueued()}
}

// uniqueWhileQueued keeps one job per args waiting or running; a finished
// one does not block the next.
func uniqueWhileQueued() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}
}
