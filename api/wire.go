package api

import "github.com/aptq/aptq/wire"

// The API's names for the wire types. Package wire defines each type once,
// for the server and the client alike; the handlers, the tests and the
// branches that add routes keep the names they were written with.
type (
	JobResponse             = wire.Job
	EventResponse           = wire.Event
	AttemptErrorResponse    = wire.AttemptError
	RoundResponse           = wire.Round
	RoundSummary            = wire.RoundSummary
	TokenRef                = wire.TokenRef
	TokenResponse           = wire.Token
	TenantResponse          = wire.TenantSummary
	AuditResponse           = wire.AuditEntry
	RepoResponse            = wire.Repo
	QuotaResponse           = wire.Quota
	KeyResponse             = wire.Key
	ReleaseRequest          = wire.ReleaseRequest
	ReleaseResponse         = wire.Release
	ReleaseUpdateRequest    = wire.ReleaseUpdate
	ReleaseUpdateResponse   = wire.ReleaseUpdateResult
	DeleteResponse          = wire.JobID
	ChangeRequest           = wire.ChangeRequest
	GenerationResponse      = wire.Generation
	MemberResponse          = wire.ReleasePackage
	PackageResponse         = wire.Package
	RoundRemoveView         = wire.Remove
	RoundView               = wire.RoundView
	RoundChangeView         = wire.RoundChange
	RoundAddView            = wire.RoundAdd
	RoundUpdateView         = wire.RoundUpdate
	SignatureRequest        = wire.SignatureRequest
	PlanItem                = wire.PlanItem
	PlanResponse            = wire.Plan
	CopyRequest             = wire.CopyRequest
	RemovalRequest          = wire.RemovalRequest
	PruneRequest            = wire.PruneRequest
	ReconcileReportResponse = wire.ReconcileReport
)
