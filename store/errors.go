package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aptq/aptq/wire"
)

// Error codes: the domain speaks these (the one list is in package wire);
// the API maps each to an HTTP status.
const (
	CodeNotFound         = wire.CodeNotFound
	CodeConflict         = wire.CodeConflict
	CodeInvalid          = wire.CodeInvalid
	CodeUnauthorized     = wire.CodeUnauthorized
	CodePackageConflict  = wire.CodePackageConflict
	CodeUnknownPackage   = wire.CodeUnknownPackage
	CodeStaleGeneration  = wire.CodeStaleGeneration
	CodeAlreadySigned    = wire.CodeAlreadySigned
	CodeRoundFailed      = wire.CodeRoundFailed
	CodeLeaseLost        = wire.CodeLeaseLost
	CodeSignatureTimeout = wire.CodeSignatureTimeout
	CodeClientGone       = wire.CodeClientGone
	CodeRetry            = wire.CodeRetry
	CodeLastKey          = wire.CodeLastKey
	CodeQuotaExceeded    = wire.CodeQuotaExceeded
	CodeUnmatchedSpec    = wire.CodeUnmatchedSpec
	CodeTooManyMatches   = wire.CodeTooManyMatches
	CodeDeleting         = wire.CodeDeleting
)

// Error is a domain error with a machine-readable code.
type Error struct {
	Code    string
	Message string
	Details map[string]any
	Err     error // the cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) match any Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf builds an Error with a code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; they carry only a code.
var (
	ErrNotFound        = &Error{Code: CodeNotFound}
	ErrConflict        = &Error{Code: CodeConflict}
	ErrUnauthorized    = &Error{Code: CodeUnauthorized}
	ErrStaleGeneration = &Error{Code: CodeStaleGeneration}
	ErrAlreadySigned   = &Error{Code: CodeAlreadySigned}
	ErrLeaseLost       = &Error{Code: CodeLeaseLost}
)

// ErrorCode returns the code of err, or "" when it is not a domain error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// constraintFields names, for each unique constraint, the field a client sent
// that collided, so that a 409 can say which.
var constraintFields = map[string]string{
	"tenants_name_key":                        "name",
	"repositories_tenant_name_key":            "name",
	"releases_repository_name_key":            "name",
	"signing_keys_repository_fingerprint_key": "fingerprint",
	"api_tokens_token_hash_key":               "token",
}

// checkRules says, for each CHECK constraint on a value a client sends,
// which field it is and what is allowed, so that a 422 tells the user how
// to fix the request instead of naming a constraint. The rules repeat the
// constraints of migrations/.
var checkRules = map[string]struct{ field, rule string }{
	"tenants_name_check": {"name",
		"tenant name must be 1–63 characters: lowercase letters, digits and '-', starting with a letter or digit"},
	"repositories_name_check": {"name",
		"repository name must be 1–63 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"},
	"releases_name_check": {"name",
		"release name must be 1–63 characters: letters, digits, '.', '_' and '-', starting with a letter or digit"},
}

// ErrReleaseName is the error for a release name that releases_name_check
// refuses, for a caller that checks the name before writing (so that it is
// reported before the fields derived from it).
var ErrReleaseName = &Error{Code: CodeInvalid, Message: checkRules["releases_name_check"].rule,
	Details: map[string]any{"field": "name"}}

// quotaLimits names the limit each quota constraint enforces, and where
// its value is read, so that a 422 can say which limit was hit.
var quotaLimits = map[string]struct{ limit, query string }{
	"tenants_repositories_quota":  {"repositories", `SELECT max_repositories FROM tenants WHERE id = $1`},
	"tenants_upload_bytes_quota":  {"upload_bytes", `SELECT max_upload_bytes FROM tenants WHERE id = $1`},
	"repositories_packages_quota": {"packages_per_repository", `SELECT max_packages FROM repositories WHERE id = $1`},
}

// quotaError turns a quota constraint violation into CodeQuotaExceeded
// naming the limit and its value (read for the owner id); other errors pass.
func quotaError(ctx context.Context, db DBTX, err error, ownerID int64) error {
	var step *StepError
	constraint := ""
	if errors.As(err, &step) {
		constraint = step.Constraint
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		constraint = pgErr.ConstraintName
	}
	q, ok := quotaLimits[constraint]
	if !ok {
		return err
	}
	var value int64
	_ = db.QueryRow(ctx, q.query, ownerID).Scan(&value)
	return &Error{Code: CodeQuotaExceeded, Message: "quota exceeded: " + q.limit,
		Details: map[string]any{"limit": q.limit, "value": value}, Err: err}
}

// translate turns database errors into domain errors by SQLSTATE and
// constraint name; what is not recognised is wrapped unchanged.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Code: CodeNotFound, Message: op + ": not found", Err: err}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch pgErr.Code {
	case pgerrcode.UniqueViolation:
		field := constraintFields[pgErr.ConstraintName]
		return &Error{Code: CodeConflict, Message: op + ": already exists",
			Details: map[string]any{"field": field, "constraint": pgErr.ConstraintName}, Err: err}
	case pgerrcode.CheckViolation, pgerrcode.NotNullViolation, pgerrcode.StringDataRightTruncationDataException:
		if r, ok := checkRules[pgErr.ConstraintName]; ok {
			return &Error{Code: CodeInvalid, Message: r.rule, Details: map[string]any{"field": r.field}, Err: err}
		}
		return &Error{Code: CodeInvalid, Message: op + ": invalid value",
			Details: map[string]any{"constraint": pgErr.ConstraintName}, Err: err}
	case pgerrcode.SerializationFailure, pgerrcode.DeadlockDetected:
		return &Error{Code: CodeRetry, Message: op + ": concurrent update, retry", Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}
