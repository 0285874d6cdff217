package api

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// Every code of the one list in package wire is answered with a status:
// the table's, or one toBody gives itself; the rest name why a job failed
// and never reach an HTTP answer. A code added to wire without a status
// fails here.
func TestEveryWireCodeHasAStatus(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../wire/errors.go", nil, 0)
	require.NoError(t, err)
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok && len(v.Values) == 1 {
			if lit, ok := v.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				code, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				codes = append(codes, code)
			}
		}
		return true
	})
	require.Greater(t, len(codes), 30)
	// Codes toBody gives errors that are not domain errors.
	answeredByToBody := map[string]struct {
		err    error
		status int
	}{
		wire.CodeInternal:         {errors.New("boom"), http.StatusInternalServerError},
		wire.CodeUnavailable:      {&net.OpError{Op: "read", Err: errors.New("reset")}, http.StatusServiceUnavailable},
		wire.CodeMethodNotAllowed: {echo.ErrMethodNotAllowed, http.StatusMethodNotAllowed},
	}
	jobOnly := map[string]bool{wire.CodeLeaseLost: true, wire.CodeSignatureTimeout: true,
		wire.CodeClientGone: true, wire.CodeRetry: true}
	for _, code := range codes {
		if jobOnly[code] {
			continue
		}
		if sample, ok := answeredByToBody[code]; ok {
			status, body := toBody(sample.err)
			require.Equal(t, sample.status, status, code)
			require.Equal(t, code, body.Code)
			continue
		}
		status, body := toBody(store.Errorf(code, "x"))
		require.Contains(t, statusByCode, code, "code %s has no HTTP status", code)
		require.Equal(t, statusByCode[code], status)
		require.Equal(t, code, body.Code)
	}
}
