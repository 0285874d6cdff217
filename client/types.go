package client

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

// Error codes the API answers with that a client acts on.
const (
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden" // the token's scope or repositories do not allow it
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeStaleGeneration = "stale_generation"
	CodeAlreadySigned   = "already_signed"
	CodeRoundFailed     = "round_failed"
	CodePrivateKey      = "private_key"
	CodeLastKey         = "last_key"
	CodeInvalid         = "invalid"
	CodeInternal        = "internal"
)

// Repo is a tenant's APT repository.
type Repo struct {
	Name string `json:"name"`
	// URL is where apt clients read the repository (the base of a sources.list line).
	URL       string    `json:"url"`
	Keys      []Key     `json:"keys"`
	Releases  []Release `json:"releases"`
	CreatedAt time.Time `json:"created_at"`
	// Quota is only filled by GetRepo; nil from a server without quotas.
	Quota *Quota `json:"quota,omitempty"`
}

// Quota is how much of its quotas a repository uses: packages per
// repository, upload bytes per tenant.
type Quota struct {
	Packages       int64 `json:"packages"`
	MaxPackages    int64 `json:"max_packages"`
	UploadBytes    int64 `json:"upload_bytes"`
	MaxUploadBytes int64 `json:"max_upload_bytes"`
}

// Key is a public signing key registered on a repository.
type Key struct {
	Fingerprint string   `json:"fingerprint"`
	UserIDs     []string `json:"user_ids"`
	// Armored is the public key; only GetKey fills it.
	Armored string `json:"armored,omitempty"`
	// Revoked: the registered copy carries a revocation; its signatures are refused.
	Revoked   bool      `json:"revoked,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ReleaseRequest creates a release. Empty fields take the server's defaults:
// suite = codename = name, origin = label = repository name, components
// ["main"], architectures ["amd64"], compressions ["gz","xz"].
type ReleaseRequest struct {
	Name          string   `json:"name"`
	Origin        string   `json:"origin,omitempty"`
	Label         string   `json:"label,omitempty"`
	Suite         string   `json:"suite,omitempty"`
	Codename      string   `json:"codename,omitempty"`
	Description   string   `json:"description,omitempty"`
	Components    []string `json:"components,omitempty"`
	Architectures []string `json:"architectures,omitempty"`
	Compressions  []string `json:"compressions,omitempty"`
	// ValidFor, when set (e.g. "7d", "36h"; at least 1h), makes every Release
	// carry Valid-Until: Date + ValidFor. Refresh it in time with Resign.
	ValidFor string `json:"valid_for,omitempty"`
	// KeepVersions, when positive, keeps only the newest KeepVersions
	// versions (dpkg order) of each package name and architecture in a
	// component: every round removes older ones.
	KeepVersions int `json:"keep_versions,omitempty"`
	// NotAutomatic and ButAutomaticUpgrades write those Release options
	// (backports-style suites); SignedBy writes Signed-By (fingerprints).
	NotAutomatic         bool   `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades bool   `json:"but_automatic_upgrades,omitempty"`
	SignedBy             string `json:"signed_by,omitempty"`
	// Contents, if set, says whether the release publishes Contents-<arch>
	// indices (nil: the server's default, on).
	Contents *bool `json:"contents,omitempty"`
}

// Release is a distribution (dists/<name>) of a repository.
type Release struct {
	Name          string   `json:"name"`
	Origin        string   `json:"origin"`
	Label         string   `json:"label"`
	Suite         string   `json:"suite"`
	Codename      string   `json:"codename"`
	Description   string   `json:"description"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	Compressions  []string `json:"compressions"`
	// ValidFor is how long each Release is valid (a Go duration, e.g.
	// "168h0m0s"); empty when Release carries no Valid-Until.
	ValidFor string `json:"valid_for,omitempty"`
	// KeepVersions is the retention (0: keep all versions).
	KeepVersions         int    `json:"keep_versions"`
	NotAutomatic         bool   `json:"not_automatic"`
	ButAutomaticUpgrades bool   `json:"but_automatic_upgrades"`
	SignedBy             string `json:"signed_by,omitempty"`
	// Contents says whether it publishes <component>/Contents-<arch>.gz.
	Contents bool `json:"contents"`
	// Deleting is true once a delete was requested.
	Deleting bool `json:"deleting,omitempty"`
	// Generation is the newest committed index; PublishedGeneration the
	// newest one that reached S3.
	Generation          int64     `json:"generation"`
	PublishedGeneration int64     `json:"published_generation"`
	CreatedAt           time.Time `json:"created_at"`
}

// Package is an uploaded .deb, content-addressed by SHA-256.
type Package struct {
	SHA256       string `json:"sha256"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Source       string `json:"source"`
	Size         int64  `json:"size"`
}

// ChangeRequest asks for packages to be added to and removed from a release.
type ChangeRequest struct {
	Adds    []Add    `json:"adds,omitempty"`
	Removes []Remove `json:"removes,omitempty"`
}

// Add puts an uploaded package into a component.
type Add struct {
	SHA256    string `json:"sha256"`
	Component string `json:"component"`
}

// Remove takes a package out of a component.
type Remove struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Component    string `json:"component"`
}

// JobRef identifies the job that carries an accepted (durable) change.
type JobRef struct {
	JobID    int64 `json:"job_id"`
	ChangeID int64 `json:"change_id"`
}

// Job is the state of one change on its way to publication.
type Job struct {
	JobID    int64  `json:"job_id"`
	ChangeID int64  `json:"change_id"`
	Repo     string `json:"repo"`
	Release  string `json:"release"`
	State    string `json:"state"`
	// Kind is what the change does: add, remove, add+remove, resign or
	// rollback.
	Kind string `json:"kind,omitempty"`
	// Generation is set once the change is in a round.
	Generation int64     `json:"generation,omitempty"`
	Round      *Round    `json:"round,omitempty"`
	Error      *JobError `json:"error,omitempty"`
	URL        string    `json:"url,omitempty"`
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

// Round is one publish of a release.
type Round struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	State      string `json:"state"`
	// Release holds the exact Release bytes to sign; it is present only
	// while the round awaits a signature.
	Release           string     `json:"release,omitempty"`
	SignatureDeadline *time.Time `json:"signature_deadline,omitempty"`
	// SignedBy is the token whose signature was accepted.
	SignedBy *TokenRef `json:"signed_by,omitempty"`
}

// AwaitsSignature reports whether r can be signed now.
func (r *Round) AwaitsSignature() bool {
	return r != nil && r.State == JobAwaitingSignature && r.Release != ""
}

// JobError is why a job failed or was cancelled.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// SignatureRequest carries the signatures of a round's Release.
type SignatureRequest struct {
	Generation int64 `json:"generation"`
	// InRelease is Release clearsigned; ReleaseGPG a detached armored signature of it.
	InRelease  string `json:"inrelease"`
	ReleaseGPG string `json:"release_gpg"`
}

// SignatureResult is the server's answer to an accepted signature.
type SignatureResult struct {
	RoundID    int64    `json:"round_id"`
	Generation int64    `json:"generation"`
	State      string   `json:"state"`
	Signers    []string `json:"signers"`
}
