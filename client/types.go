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

// The JSON of the API under the client's names: package wire defines each
// type once, for the server and the client alike.
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
	Package             = wire.Package
	ChangeRequest       = wire.ChangeRequest
	Add                 = wire.Add
	Remove              = wire.Remove
	RoundRemove         = wire.Remove
	SignatureRequest    = wire.SignatureRequest
	SignatureResult     = wire.SignatureResult
	RoundView           = wire.RoundView
	RoundChange         = wire.RoundChange
	RoundUpdate         = wire.RoundUpdate
	RoundAdd            = wire.RoundAdd
	PlanItem            = wire.PlanItem
	Plan                = wire.Plan
	CopyRequest         = wire.CopyRequest
	RemovalRequest      = wire.RemovalRequest
	PruneRequest        = wire.PruneRequest
	Repair              = wire.Repair
	ReconcileReport     = wire.ReconcileReport
	Generation          = wire.Generation
	ReleasePackage      = wire.ReleasePackage
)
