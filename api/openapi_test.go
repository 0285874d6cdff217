package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/metrics"
)

// The committed document is what the wire types and the operation table
// make now.
func TestOpenAPIDocumentFresh(t *testing.T) {
	t.Parallel()
	fresh, err := OpenAPIDocument()
	require.NoError(t, err)
	require.True(t, bytes.Equal(fresh, openAPIDocument),
		"api/openapi.json is stale: run go generate ./api")
}

// openAPIPath turns an echo route path into the document's template:
// :param is {param}, the trailing wildcard {path}.
func openAPIPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = "{" + p[1:] + "}"
		case p == "*":
			parts[i] = "{path}"
		}
	}
	return strings.Join(parts, "/")
}

// Every route of the router is in the document, and every operation of the
// document is a route (with /metrics on, as a server without a separate
// metrics listener has it).
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	s := New(Config{Metrics: metrics.New()})
	var routes []string
	for _, r := range s.echo.Routes() {
		if r.Method == "echo_route_not_found" { // a group's 404 catch-all, not a route
			continue
		}
		routes = append(routes, r.Method+" "+openAPIPath(r.Path))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	require.Equal(t, routes, documented)
}

// Every /v1 operation names its scope, as the router states it.
func TestOpenAPIScopes(t *testing.T) {
	t.Parallel()
	for _, op := range operations() {
		if strings.HasPrefix(op.Path, "/v1/") {
			require.Contains(t, []string{read, publish, admin, "operator"}, op.Security, "%s %s", op.Method, op.Path)
		}
	}
}

// The server serves the committed document to any token, and to no one
// without a token.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	var got json.RawMessage
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/openapi.json", nil, &got))
	require.JSONEq(t, string(openAPIDocument), string(got))
	b.token = "not-a-token"
	b.expectError(http.MethodGet, "/v1/openapi.json", nil, http.StatusUnauthorized, "unauthorized")
}
