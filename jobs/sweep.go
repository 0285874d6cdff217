package jobs

import "github.com/riverqueue/river"

// SweepArgs is the periodic job that finds releases whose leader died
// (unfinished changes, no live lease) and enqueues a resume for each.
type SweepArgs struct{}

// Kind is River's name for the job kind.
func (SweepArgs) Kind() string { return "sweep" }

// InsertOpts runs sweeps on the maintenance queue.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 1}
}

// ResumeOpts enqueues a publish job with no change of its own (ChangeID 0)
// that leads the release's pending work. Unique per release and minute, so
// repeated sweeps do not pile them up, and a resume stuck with a dead
// process does not block the next minute's.
func ResumeOpts(releaseID int64, partitions int) *river.InsertOpts {
	opts := PublishArgs{ReleaseID: releaseID}.QueueOpts(partitions)
	opts.UniqueOpts = uniqueWhileQueued()
	return opts
}
