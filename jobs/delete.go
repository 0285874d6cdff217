package jobs

import (
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Actor is who asked for a job, for the audit log entry of its end.
type Actor struct {
	TenantID  int64  `json:"tenant_id"`
	TokenID   int64  `json:"token_id"`
	TokenName string `json:"token_name"`
}

// DeleteReleaseArgs removes a release whose delete was requested: from S3
// in an order apt never sees broken (InRelease first), then from Postgres.
// Every step may run again, so a retried or rescued job resumes the delete.
type DeleteReleaseArgs struct {
	ReleaseID int64 `json:"release_id" river:"unique"`
	Actor     Actor `json:"actor"`
}

// Kind is River's name for the job kind.
func (DeleteReleaseArgs) Kind() string { return "delete_release" }

// InsertOpts runs deletes on the maintenance queue, one per release at a
// time, with the attempts of a publish (S3 or database outages).
func (DeleteReleaseArgs) InsertOpts() river.InsertOpts { return deleteOpts() }

// DeleteRepositoryArgs removes a repository whose delete was requested:
// each release as DeleteReleaseArgs does, then every object left under
// its prefix (the pool), then the repository's rows.
type DeleteRepositoryArgs struct {
	RepositoryID int64 `json:"repository_id" river:"unique"`
	Actor        Actor `json:"actor"`
}

// Kind is River's name for the job kind.
func (DeleteRepositoryArgs) Kind() string { return "delete_repository" }

// InsertOpts runs deletes on the maintenance queue, one per repository at a time.
func (DeleteRepositoryArgs) InsertOpts() river.InsertOpts { return deleteOpts() }

// deleteOpts runs a delete on the maintenance queue with the attempts of a
// publish (S3 or database outages), and keeps one delete job per release or
// repository until it ends, whoever asked: the maintenance job restarts an
// abandoned one.
func deleteOpts() river.InsertOpts {
	return river.InsertOpts{Queue: MaintenanceQueue, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}
