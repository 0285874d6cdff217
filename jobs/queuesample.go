package jobs

import "github.com/riverqueue/river"

// QueueSampleArgs is the periodic job that records the open jobs per
// release and state at the current minute, for the queue depth chart.
type QueueSampleArgs struct{}

// Kind is River's name for the job kind.
func (QueueSampleArgs) Kind() string { return "queue_sample" }

// InsertOpts runs samples on the maintenance queue, once: a failed sample
// is a gap in the chart, and the next minute's job samples again.
func (QueueSampleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 1}
}
