// Package jobs holds the River job kinds aptq enqueues: one file per kind.
package jobs

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/riverqueue/river"
)

// MaintenanceQueue runs reconcile and garbage collection, apart from publishes.
const MaintenanceQueue = "maintenance"

// PublishArgs carries one change of a release to a worker.
type PublishArgs struct {
	ChangeID  int64 `json:"change_id"`
	ReleaseID int64 `json:"release_id"`
	// TakeOver is, in a resume job (ChangeID 0) of a worker that saw the
	// release's lease expire, that lease's token: the job is unique per dead
	// lease, so the workers that all saw it enqueue one, and a resume job
	// stuck with a dead process does not hold back the next takeover.
	TakeOver int64 `json:"take_over,omitempty"`
}

// Kind is River's name for the job kind.
func (PublishArgs) Kind() string { return "publish" }

// QueueOpts puts the job on its release's partition queue. A job that finds
// the release busy snoozes, which River does not count as an attempt, so the
// attempts are for real errors (S3 or database outages) only.
func (a PublishArgs) QueueOpts(partitions int) *river.InsertOpts {
	return &river.InsertOpts{Queue: PublishQueue(a.ReleaseID, partitions), MaxAttempts: 25}
}

// PublishQueue is the queue of a release: releases are hashed into
// partitions so that a flood of changes to one release cannot starve others.
func PublishQueue(releaseID int64, partitions int) string {
	if partitions <= 0 {
		partitions = 1
	}
	h := fnv.New32a()
	h.Write([]byte(strconv.FormatInt(releaseID, 10)))
	return fmt.Sprintf("publish_%02d", h.Sum32()%uint32(partitions))
}

// PublishQueues lists every partition queue name.
func PublishQueues(partitions int) []string {
	out := make([]string, partitions)
	for i := range out {
		out[i] = fmt.Sprintf("publish_%02d", i)
	}
	return out
}
