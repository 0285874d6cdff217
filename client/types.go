package client

import "github.com/aptq/aptq/wire"

// Job states, as docs/api.md names them.
const (
	JobQueued            = wire.JobQueued
	JobAwaitingSignature = wire.JobAwaitingSignature
	JobSigned            = wire.JobSigned
	JobCommitted         = wire.JobCommitted
	JobPublished         = wire.JobPublished
	JobFailed            = wire.JobFailed
	JobCancelled         = wire.JobCancelled
)

// Error codes the API answers with that a client acts on (the full list is
// in package wire).
const (
	CodeUnauthorized    = wire.CodeUnauthorized
	CodeForbidden       = wire.CodeForbidden
	CodeNotFound        = wire.CodeNotFound
	CodeConflict        = wire.CodeConflict
	CodeStaleGeneration = wire.CodeStaleGeneration
	CodeAlreadySigned   = wire.CodeAlreadySigned
	CodeRoundFailed     = wire.CodeRoundFailed
	CodePrivateKey      = wire.CodePrivateKey
	CodeLastKey         = wire.CodeLastKey
	CodeInvalid         = wire.CodeInvalid
	CodeInternal        = wire.CodeInternal
)

// The JSON of the jobs API (see package wire).
type (
	Job                 = wire.Job
	JobRef              = wire.JobRef
	Round               = wire.Round
	JobError            = wire.ErrorBody
	Event               = wire.Event
	AttemptError        = wire.AttemptError
	JobPage             = wire.JobPage
	RoundSummary        = wire.RoundSummary
	TokenRef            = wire.TokenRef
	Token               = wire.Token
	Tenant              = wire.Tenant
	TenantSummary       = wire.TenantSummary
	LoginLink           = wire.LoginLink
	AuditEntry          = wire.AuditEntry
	AuditPage           = wire.AuditPage
	Repo                = wire.Repo
	Quota               = wire.Quota
	Key                 = wire.Key
	ReleaseRequest      = wire.ReleaseRequest
	Release             = wire.Release
	ReleaseUpdate       = wire.ReleaseUpdate
	ReleaseUpdateResult = wire.ReleaseUpdateResult
)

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
