package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody = wire.ErrorBody

// statusByCode is the one table from domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	wire.CodeNotFound:         http.StatusNotFound,
	wire.CodeConflict:         http.StatusConflict,
	wire.CodeInvalid:          http.StatusUnprocessableEntity,
	wire.CodeUnauthorized:     http.StatusUnauthorized,
	wire.CodePackageConflict:  http.StatusConflict,
	wire.CodeUnknownPackage:   http.StatusUnprocessableEntity,
	wire.CodeStaleGeneration:  http.StatusConflict,
	wire.CodeAlreadySigned:    http.StatusConflict,
	wire.CodeRoundFailed:      http.StatusConflict,
	wire.CodeLastKey:          http.StatusConflict,
	wire.CodeQuotaExceeded:    http.StatusUnprocessableEntity,
	wire.CodeUnmatchedSpec:    http.StatusUnprocessableEntity,
	wire.CodeTooManyMatches:   http.StatusUnprocessableEntity,
	wire.CodeDeleting:         http.StatusConflict,
	wire.CodeBadRequest:       http.StatusBadRequest,
	wire.CodeForbidden:        http.StatusForbidden,
	wire.CodeCrossOrigin:      http.StatusForbidden,
	wire.CodeChecksumMismatch: http.StatusUnprocessableEntity,
	wire.CodeInvalidPackage:   http.StatusUnprocessableEntity,
	wire.CodeTooLarge:         http.StatusRequestEntityTooLarge,
	wire.CodeInvalidKey:       http.StatusUnprocessableEntity,
	wire.CodePrivateKey:       http.StatusUnprocessableEntity,
	wire.CodeBadSignature:     http.StatusUnprocessableEntity,
	wire.CodeUnknownKey:       http.StatusUnprocessableEntity,
	wire.CodeContentMismatch:  http.StatusUnprocessableEntity,
	wire.CodeTrailingData:     http.StatusBadRequest,
	wire.CodeRevokedKey:       http.StatusUnprocessableEntity,
	wire.CodeTooManyUploads:   http.StatusTooManyRequests,
	wire.CodeUploadTooSlow:    http.StatusRequestTimeout,
	wire.CodeIncompleteBody:   http.StatusBadRequest,
	wire.CodeMissingFile:      http.StatusUnprocessableEntity,
}

// domainSentinels maps the domain packages' sentinel errors to codes.
var domainSentinels = []struct {
	err  error
	code string
}{
	{apt.ErrInvalidPackage, wire.CodeInvalidPackage},
	{apt.ErrInvalidSource, wire.CodeInvalidPackage},
	{sign.ErrPrivateKey, wire.CodePrivateKey},
	{sign.ErrInvalidKey, wire.CodeInvalidKey},
	{sign.ErrContentMismatch, wire.CodeContentMismatch},
	{sign.ErrUnknownKey, wire.CodeUnknownKey},
	{sign.ErrBadSignature, wire.CodeBadSignature},
	{sign.ErrExpiredKey, wire.CodeBadSignature},
	{sign.ErrRevokedKey, wire.CodeRevokedKey},
}

func badRequest(format string, args ...any) error {
	return store.Errorf(wire.CodeBadRequest, format, args...)
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
	if store.Unavailable(err) {
		return http.StatusServiceUnavailable, ErrorBody{Code: wire.CodeUnavailable,
			Message: "the database is unreachable (restarting?); retry"}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code := wire.CodeBadRequest
		switch he.Code {
		case http.StatusNotFound:
			code = wire.CodeNotFound
		case http.StatusMethodNotAllowed:
			code = wire.CodeMethodNotAllowed
		case http.StatusRequestEntityTooLarge:
			code = wire.CodeTooLarge
		case http.StatusUnauthorized:
			code = wire.CodeUnauthorized
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		return he.Code, ErrorBody{Code: code, Message: msg}
	}
	return http.StatusInternalServerError, ErrorBody{Code: wire.CodeInternal, Message: "internal error"}
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
