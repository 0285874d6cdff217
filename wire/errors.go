package wire

// Error codes: the one list the store's errors, the API's error responses
// and the client's decoding share. Each maps to one HTTP status (the API's
// table); a client acts on the code, never on the message.
const (
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeInvalid          = "invalid"
	CodeUnauthorized     = "unauthorized"
	CodePackageConflict  = "package_conflict"
	CodeUnknownPackage   = "unknown_package"
	CodeStaleGeneration  = "stale_generation"
	CodeAlreadySigned    = "already_signed"
	CodeRoundFailed      = "round_failed"
	CodeLeaseLost        = "lease_lost"
	CodeSignatureTimeout = "signature_timeout"
	CodeClientGone       = "client_gone"
	CodeRetry            = "retry"
	CodeLastKey          = "last_key"
	CodeQuotaExceeded    = "quota_exceeded"
	// CodeUnmatchedSpec: a package spec (NAME[=VERSION[:ARCH]]) selects
	// nothing; CodeTooManyMatches: the specs select more than one change holds.
	CodeUnmatchedSpec  = "unmatched_spec"
	CodeTooManyMatches = "too_many_matches"
	// CodeDeleting refuses a write to a release or repository being deleted.
	CodeDeleting = "deleting"

	CodeBadRequest       = "bad_request"
	CodeForbidden        = "forbidden" // the token's scope or repositories do not allow it
	CodeCrossOrigin      = "cross_origin"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeChecksumMismatch = "checksum_mismatch"
	CodeInvalidPackage   = "invalid_package"
	CodeTooLarge         = "too_large"
	CodeInvalidKey       = "invalid_key"
	CodePrivateKey       = "private_key"
	CodeBadSignature     = "bad_signature"
	CodeUnknownKey       = "unknown_key"
	CodeContentMismatch  = "content_mismatch"
	CodeTrailingData     = "trailing_data"
	CodeRevokedKey       = "revoked_key"
	CodeTooManyUploads   = "too_many_uploads"
	CodeUploadTooSlow    = "upload_too_slow"
	CodeIncompleteBody   = "incomplete_body"
	// CodeMissingFile: a .dsc or .changes lists a file the tenant has not
	// uploaded.
	CodeMissingFile = "missing_file"
	CodeInternal    = "internal"
	// CodeUnavailable: the database is unreachable for a moment (a
	// restart); the request may be retried.
	CodeUnavailable = "unavailable"
)

// ErrorBody is the JSON body of every error response, and why a job failed
// or was cancelled (Job.Error, without details).
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}
