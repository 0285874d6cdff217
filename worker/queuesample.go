package worker

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/aptq/aptq/jobs"
)

// QueueSampleInterval is how often the queue depth is sampled: the
// narrowest bucket of a chart.
const QueueSampleInterval = time.Minute

// QueueSampleWorker records the queue depth of the minute it runs in (not
// of the minute it was scheduled for: a job that waited shows the queue
// as it is when it runs).
type QueueSampleWorker struct {
	river.WorkerDefaults[jobs.QueueSampleArgs]
	cfg Config
}

// Work samples the open jobs; a minute sampled already is left as it is.
func (w *QueueSampleWorker) Work(ctx context.Context, _ *river.Job[jobs.QueueSampleArgs]) error {
	_, err := w.cfg.Store.SampleQueue(ctx, time.Now())
	return err
}
