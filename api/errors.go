package api

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// statusByCode is the one table from domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	store.CodeNotFound:        http.StatusNotFound,
	store.CodeConflict:        http.StatusConflict,
	store.CodeInvalid:         http.StatusUnprocessableEntity,
	store.CodeUnauthorized:    http.StatusUnauthorized,
	store.CodePackageConflict: http.StatusConflict,
	store.CodeUnknownPackage:  http.StatusUnprocessableEntity,
	store.CodeStaleGeneration: http.StatusConflict,
	store.CodeAlreadySigned:   http.StatusConflict,
	store.CodeRoundFailed:     http.StatusConflict,
	store.CodeLastKey:         http.StatusConflict,
	store.CodeQuotaExceeded:   http.StatusUnprocessableEntity,
	store.CodeUnmatchedSpec:   http.StatusUnprocessableEntity,
	store.CodeTooManyMatches:  http.StatusUnprocessableEntity,
	store.CodeDeleting:        http.StatusConflict,
	codeBadRequest:            http.StatusBadRequest,
	codeForbidden:             http.StatusForbidden,
	codeCrossOrigin:           http.StatusForbidden,
	codeChecksumMismatch:      http.StatusUnprocessableEntity,
	codeInvalidPackage:        http.StatusUnprocessableEntity,
	codeTooLarge:              http.StatusRequestEntityTooLarge,
	codeInvalidKey:            http.StatusUnprocessableEntity,
	codePrivateKey:            http.StatusUnprocessableEntity,
	codeBadSignature:          http.StatusUnprocessableEntity,
	codeUnknownKey:            http.StatusUnprocessableEntity,
	codeContentMismatch:       http.StatusUnprocessableEntity,
	codeTrailingData:          http.StatusBadRequest,
	codeRevokedKey:            http.StatusUnprocessableEntity,
	codeTooManyUploads:        http.StatusTooManyRequests,
	codeUploadTooSlow:         http.StatusRequestTimeout,
	codeIncompleteBody:        http.StatusBadRequest,
	codeMissingFile:           http.StatusUnprocessableEntity,
}

// Codes the API itself raises, beside the store's.
const (
	codeBadRequest       = "bad_request"
	codeForbidden        = "forbidden"
	codeCrossOrigin      = "cross_origin"
	codeChecksumMismatch = "checksum_mismatch"
	codeInvalidPackage   = "invalid_package"
	codeTooLarge         = "too_large"
	codeInvalidKey       = "invalid_key"
	codePrivateKey       = "private_key"
	codeBadSignature     = "bad_signature"
	codeUnknownKey       = "unknown_key"
	codeContentMismatch  = "content_mismatch"
	codeTrailingData     = "trailing_data"
	codeRevokedKey       = "revoked_key"
	codeInternal         = "internal"
	codeUnavailable      = "unavailable"
)

// domainSentinels maps the domain packages' sentinel errors to codes.
var domainSentinels = []struct {
	err  error
	code string
}{
	{apt.ErrInvalidPackage, codeInvalidPackage},
	{apt.ErrInvalidSource, codeInvalidPackage},
	{sign.ErrPrivateKey, codePrivateKey},
	{sign.ErrInvalidKey, codeInvalidKey},
	{sign.ErrContentMismatch, codeContentMismatch},
	{sign.ErrUnknownKey, codeUnknownKey},
	{sign.ErrBadSignature, codeBadSignature},
	{sign.ErrExpiredKey, codeBadSignature},
	{sign.ErrRevokedKey, codeRevokedKey},
}

func badRequest(format string, args ...any) error {
	return store.Errorf(codeBadRequest, format, args...)
}

// toBody turns any error into a status and a body that is safe to show.
func toBody(err error) (int, ErrorBody) {
	var e *store.Error
	if errors.As(err, &e) {
		if status, ok := statusByCode[e.Code]; ok {
			return status, ErrorBody{Code: e.Code, Message: e.Message, Details: e.Details}
		}
	}
	for _, s := range domainSentinels {
		if errors.Is(err, s.err) {
			return statusByCode[s.code], ErrorBody{Code: s.code, Message: err.Error()}
		}
	}
	if databaseUnavailable(err) {
		return http.StatusServiceUnavailable, ErrorBody{Code: codeUnavailable,
			Message: "the database is unreachable (restarting?); retry"}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code := codeBadRequest
		switch he.Code {
		case http.StatusNotFound:
			code = store.CodeNotFound
		case http.StatusMethodNotAllowed:
			code = "method_not_allowed"
		case http.StatusRequestEntityTooLarge:
			code = codeTooLarge
		case http.StatusUnauthorized:
			code = store.CodeUnauthorized
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		return he.Code, ErrorBody{Code: code, Message: msg}
	}
	return http.StatusInternalServerError, ErrorBody{Code: codeInternal, Message: "internal error"}
}

// errorHandler is echo's HTTPErrorHandler: one place maps errors to
// responses, and only server errors are logged.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := toBody(err)
	if status >= 500 {
		if c.Request().Context().Err() != nil {
			// A client that went away (a long poll given up) is not a server
			// error: the request log and metrics say so, and nothing is logged.
			status = metrics.StatusClientClosed
		} else {
			s.logger.Error("request failed", slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path), slog.Any("error", err))
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// databaseUnavailable says whether err means Postgres could not be reached
// or went away (a restart): a 503 that clients retry, not a 500, since the
// request may well succeed a moment later.
func databaseUnavailable(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var netErr *net.OpError
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF)
}
