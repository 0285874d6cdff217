package wire

import "time"

// Job states, as docs/api.md names them.
const (
	JobQueued            = "queued"
	JobAwaitingSignature = "awaiting_signature"
	JobSigned            = "signed"
	JobCommitted         = "committed"
	JobPublished         = "published"
	JobFailed            = "failed"
	JobCancelled         = "cancelled"
)

// JobRef identifies the job that carries an accepted (durable) change.
// (Fields in the order the server has always written them.)
type JobRef struct {
	ChangeID int64 `json:"change_id"`
	JobID    int64 `json:"job_id"`
}

// RetryRef is the new job of a retried one.
type RetryRef struct {
	JobRef
	// RetryOf is the failed or cancelled job whose change it carries again.
	RetryOf int64 `json:"retry_of"`
}

// JobID names the job that carries out a delete or a reconcile.
type JobID struct {
	JobID int64 `json:"job_id"`
}

// Job is the state of one change on its way to publication: what a client
// polling its job sees.
type Job struct {
	JobID    int64  `json:"job_id"`
	ChangeID int64  `json:"change_id"`
	Repo     string `json:"repo"`
	Release  string `json:"release"`
	State    string `json:"state"`
	// Kind is what the change does: add, remove, add+remove, resign,
	// rollback.
	Kind string `json:"kind"`
	// Generation is set once the change is in a round.
	Generation int64      `json:"generation,omitempty"`
	Round      *Round     `json:"round,omitempty"`
	Error      *ErrorBody `json:"error,omitempty"`
	URL        string     `json:"url"`
	// Tenant is set for operators, who see every tenant's jobs.
	Tenant string `json:"tenant,omitempty"`
	// Submitter is the token that submitted the change.
	Submitter *TokenRef `json:"submitter,omitempty"`
	// Timeline and AttemptErrors come with a single job (GET /v1/jobs/{id}).
	Timeline      []Event        `json:"timeline,omitempty"`
	AttemptErrors []AttemptError `json:"attempt_errors,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// Done reports whether the job reached a final state.
func (j Job) Done() bool {
	return j.State == JobPublished || j.State == JobFailed || j.State == JobCancelled
}

// Round is the round a job rides in.
type Round struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	// Release holds the exact Release bytes to sign; it is present only
	// while the round awaits a signature.
	Release           string    `json:"release,omitempty"`
	SignatureDeadline time.Time `json:"signature_deadline"`
	// SignedBy is the token whose signature was accepted.
	SignedBy *TokenRef `json:"signed_by,omitempty"`
}

// AwaitsSignature reports whether r can be signed now.
func (r *Round) AwaitsSignature() bool {
	return r != nil && r.State == JobAwaitingSignature && r.Release != ""
}

// Event is one step of a job's timeline.
type Event struct {
	Kind   string         `json:"kind"`
	Detail map[string]any `json:"detail,omitempty"`
	At     time.Time      `json:"at"`
}

// AttemptError is a failed attempt of a job's worker. River's error text
// is internal (SQL, S3 endpoints, Go error chains): operators see it,
// tenants see the code and a fixed message.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Code    string    `json:"code"`
	Error   string    `json:"error"`
}

// JobPage is one page of jobs, newest first; NextCursor is 0 on the last.
type JobPage struct {
	Jobs       []Job `json:"jobs"`
	NextCursor int64 `json:"next_cursor,omitempty"`
}

// RoundSummary is a round in a release's list.
type RoundSummary struct {
	ID           int64      `json:"id"`
	Generation   int64      `json:"generation"`
	State        string     `json:"state"`
	Changes      int        `json:"changes"`
	ErrorCode    string     `json:"error_code,omitempty"`
	ErrorMessage string     `json:"error_message,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	SignedAt     *time.Time `json:"signed_at,omitempty"`
	CommittedAt  *time.Time `json:"committed_at,omitempty"`
	PublishedAt  *time.Time `json:"published_at,omitempty"`
}

// RoundList is a release's latest rounds, newest first.
type RoundList struct {
	Rounds []RoundSummary `json:"rounds"`
}
