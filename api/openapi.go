package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/aptq/aptq/internal/openapi"
	"github.com/aptq/aptq/wire"
)

// openAPIDocument is OpenAPIDocument's output as committed: served as it
// is, and TestOpenAPIDocumentFresh fails when it differs from a fresh one.
//
//go:generate go run ../cmd/aptq-openapi -o openapi.json
//go:embed openapi.json
var openAPIDocument []byte

// serveOpenAPI answers GET /v1/openapi.json. It needs a token like the
// rest of /v1 (read scope), though the document holds nothing secret: a
// route open to anyone would be the only one under /v1.
func (s *Server) serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}

// OpenAPIDocument builds the OpenAPI 3.1 document of every route from the
// wire types (cmd/aptq-openapi writes it to api/openapi.json).
func OpenAPIDocument() ([]byte, error) {
	return openapi.Build(openapi.Info{Title: "aptq", Version: "1",
		Description: "aptq publishes signed APT repositories to S3. Errors answer {code, message, details}; " +
			"docs/api.md describes each route and code."}, operations(), wire.ErrorBody{})
}

// Query parameters shared by several routes.
var (
	waitParam   = openapi.Param{Name: "wait", Description: "long poll: answer within this duration (e.g. 30s, capped by the server) once there is news"}
	limitParam  = openapi.Param{Name: "limit", Description: "page size"}
	cursorParam = openapi.Param{Name: "cursor", Description: "the next_cursor of the previous page"}
)

// operations lists every route with its scope and bodies, in the order of
// routes(); TestOpenAPICoversRoutes checks it against the router.
func operations() []openapi.Operation {
	type op = openapi.Operation
	const (
		json = "application/json"
		html = "text/html"
		deb  = "application/vnd.debian.binary-package"
	)
	return []op{
		{Method: "GET", Path: "/healthz", Summary: "the process is up", Status: 200, Response: wire.Health{}},
		{Method: "GET", Path: "/readyz", Summary: "Postgres and S3 answer (503 otherwise)", Status: 200, Response: wire.Readiness{}},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics (unless served on another listener)", Status: 200, ResponseType: "text/plain"},
		{Method: "GET", Path: "/apt/{tenant}/{repo}/{path}", Summary: "a file of a repository as apt reads it ({path} may hold slashes)", Status: 200, ResponseType: "application/octet-stream"},
		{Method: "HEAD", Path: "/apt/{tenant}/{repo}/{path}", Summary: "a file's headers", Status: 200},

		{Method: "GET", Path: "/v1/openapi.json", Summary: "this document", Security: read, Status: 200, ResponseType: json},
		{Method: "GET", Path: "/v1/whoami", Summary: "the token's tenant, scope and repositories (an operator token: {operator: true})", Security: read, Status: 200, Response: wire.Whoami{}},
		{Method: "POST", Path: "/v1/tenants", Summary: "create a tenant and its first (admin) token", Security: "operator", Request: wire.TenantRequest{}, Status: 201, Response: wire.Tenant{}},
		{Method: "GET", Path: "/v1/tenants", Summary: "every tenant", Security: "operator", Status: 200, Response: wire.TenantList{}},
		{Method: "GET", Path: "/v1/jobs", Summary: "jobs, newest first (every tenant's for an operator)", Security: read, Status: 200, Response: wire.JobPage{},
			Query: []openapi.Param{{Name: "repo"}, {Name: "release"}, {Name: "state"}, {Name: "since", Description: "RFC 3339 or a duration like 1h"}, limitParam, cursorParam}},
		{Method: "GET", Path: "/v1/jobs/{id}", Summary: "a job; with wait and state, a long poll until its state differs", Security: read, Status: 200, Response: wire.Job{},
			Query: []openapi.Param{waitParam, {Name: "state", Description: "the state the client last saw"}}},

		{Method: "GET", Path: "/v1/tokens", Summary: "the tenant's tokens, without secrets", Security: admin, Status: 200, Response: wire.TokenList{}},
		{Method: "POST", Path: "/v1/tokens", Summary: "create a token (its secret is shown once)", Security: admin, Request: wire.TokenRequest{}, Status: 201, Response: wire.Token{}},
		{Method: "DELETE", Path: "/v1/tokens/{id}", Summary: "revoke a token", Security: admin, Status: 204},
		{Method: "GET", Path: "/v1/audit", Summary: "the tenant's audit log, newest first", Security: admin, Status: 200, Response: wire.AuditPage{},
			Query: []openapi.Param{limitParam, cursorParam}},
		{Method: "POST", Path: "/v1/repos", Summary: "create a repository", Security: admin, Request: wire.RepoRequest{}, Status: 201, Response: wire.Repo{}},
		{Method: "GET", Path: "/v1/repos", Summary: "the tenant's repositories", Security: read, Status: 200, Response: wire.RepoList{}},
		{Method: "GET", Path: "/v1/repos/{repo}", Summary: "a repository with its keys, releases and quota", Security: read, Status: 200, Response: wire.Repo{}},
		{Method: "POST", Path: "/v1/repos/{repo}/keys", Summary: "register a public signing key", Security: admin, Request: wire.KeyRequest{}, Status: 201, Response: wire.Key{}},
		{Method: "GET", Path: "/v1/repos/{repo}/keys", Summary: "the repository's keys", Security: read, Status: 200, Response: wire.KeyList{}},
		{Method: "GET", Path: "/v1/repos/{repo}/keys/{fingerprint}", Summary: "a key, armored", Security: read, Status: 200, Response: wire.Key{}},
		{Method: "DELETE", Path: "/v1/repos/{repo}/keys/{fingerprint}", Summary: "remove a key (not the last)", Security: admin, Status: 204},
		{Method: "POST", Path: "/v1/repos/{repo}/webhooks", Summary: "add a webhook; the answer is the only one that shows its secret", Security: admin, Request: wire.WebhookCreate{}, Status: 201, Response: wire.Webhook{}},
		{Method: "GET", Path: "/v1/repos/{repo}/webhooks", Summary: "the repository's webhooks (without secrets)", Security: read, Status: 200, Response: wire.WebhookList{}},
		{Method: "DELETE", Path: "/v1/repos/{repo}/webhooks/{id}", Summary: "remove a webhook", Security: admin, Status: 204},
		{Method: "GET", Path: "/v1/repos/{repo}/webhooks/{id}/deliveries", Summary: "a webhook's recent deliveries and the receiver's answers", Security: read, Status: 200, Response: wire.WebhookDeliveryList{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases", Summary: "create a release", Security: admin, Request: wire.ReleaseRequest{}, Status: 201, Response: wire.Release{}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases", Summary: "the repository's releases", Security: read, Status: 200, Response: wire.ReleaseList{}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases/{release}", Summary: "a release", Security: read, Status: 200, Response: wire.Release{}},
		{Method: "PATCH", Path: "/v1/repos/{repo}/releases/{release}", Summary: "change a release's fields (a change like any other: 202, or 200 when nothing changes)", Security: admin, Request: wire.ReleaseUpdate{}, Status: 202, Response: wire.ReleaseUpdateResult{}},
		{Method: "DELETE", Path: "/v1/repos/{repo}/releases/{release}", Summary: "delete a release (a job)", Security: admin, Status: 202, Response: wire.JobID{}},
		{Method: "DELETE", Path: "/v1/repos/{repo}", Summary: "delete a repository (a job)", Security: admin, Status: 202, Response: wire.JobID{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/changes", Summary: "submit a change: adds and removes", Security: publish, Request: wire.ChangeRequest{}, Status: 202, Response: wire.JobRef{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/copy", Summary: "copy packages from another release (200 for a dry run or nothing to do)", Security: publish, Request: wire.CopyRequest{}, Status: 202, Response: wire.Plan{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/removals", Summary: "remove the packages specs select", Security: publish, Request: wire.RemovalRequest{}, Status: 202, Response: wire.Plan{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/prune", Summary: "keep only the newest versions, once", Security: publish, Request: wire.PruneRequest{}, Status: 202, Response: wire.Plan{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/resign", Summary: "sign the current membership again (a new generation)", Security: publish, Status: 202, Response: wire.JobRef{}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/rollback", Summary: "republish an earlier generation's membership", Security: publish, Request: wire.RollbackRequest{}, Status: 202, Response: wire.JobRef{}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases/{release}/history", Summary: "committed generations, newest first", Security: read, Status: 200, Response: wire.History{},
			Query: []openapi.Param{limitParam}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases/{release}/rounds", Summary: "the latest rounds", Security: read, Status: 200, Response: wire.RoundList{}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases/{release}/packages", Summary: "the packages of the last committed generation", Security: read, Status: 200, Response: wire.ReleasePackageList{},
			Query: []openapi.Param{{Name: "component"}, {Name: "name"}, {Name: "architecture"}}},
		{Method: "POST", Path: "/v1/repos/{repo}/releases/{release}/reconcile", Summary: "reconcile S3 with the database now (a job)", Security: publish, Status: 202, Response: wire.JobID{}},
		{Method: "GET", Path: "/v1/repos/{repo}/releases/{release}/reconcile", Summary: "the latest reconcile reports; with job_id and wait, once that job's exists", Security: read, Status: 200, Response: wire.ReconcileReports{},
			Query: []openapi.Param{{Name: "job_id"}, waitParam}},
		{Method: "HEAD", Path: "/v1/packages/{sha256}", Summary: "whether the server has a package (200 or 404)", Security: publish, Status: 200},
		{Method: "PUT", Path: "/v1/packages/{sha256}", Summary: "upload a .deb (200 when the server had it)", Security: publish, RequestType: deb, Status: 201, Response: wire.Package{}},
		{Method: "HEAD", Path: "/v1/files/{sha256}", Summary: "whether the server has a file a .dsc or .changes lists (200 or 404)", Security: publish, Status: 200},
		{Method: "PUT", Path: "/v1/files/{sha256}", Summary: "upload a file a .dsc or .changes lists (an orig or debian tarball, a .changes); 200 when the server had it", Security: publish, RequestType: "application/octet-stream", Status: 201, Response: wire.FileResponse{}},
		{Method: "PUT", Path: "/v1/sources/{sha256}", Summary: "upload a .dsc whose listed files were uploaded; each is checked against it (422 missing_file or checksum_mismatch naming the file)", Security: publish, RequestType: "text/plain", Status: 201, Response: wire.Package{}},
		{Method: "DELETE", Path: "/v1/jobs/{id}", Summary: "cancel a job", Security: publish, Status: 200, Response: wire.Job{},
			Query: []openapi.Param{{Name: "reason_code"}, {Name: "reason"}}},
		{Method: "POST", Path: "/v1/jobs/{id}/retry", Summary: "enqueue a failed or cancelled job's change again", Security: publish, Status: 202, Response: wire.RetryRef{}},
		{Method: "GET", Path: "/v1/rounds/{id}", Summary: "what a signer checks before signing a round", Security: read, Status: 200, Response: wire.RoundView{}},
		{Method: "POST", Path: "/v1/rounds/{id}/signature", Summary: "sign a round: the first valid signature wins", Security: publish, Request: wire.SignatureRequest{}, Status: 200, Response: wire.SignatureResult{}},

		{Method: "GET", Path: "/ui", Summary: "redirects to /ui/", Status: 301},
		{Method: "GET", Path: "/ui/", Summary: "the operator page (a session cookie; else a redirect to the login form)", Status: 200, ResponseType: html},
		{Method: "GET", Path: "/ui/login", Summary: "the login form", Status: 200, ResponseType: html},
		{Method: "POST", Path: "/ui/login", Summary: "sign in with an operator token (a form)", RequestType: "application/x-www-form-urlencoded", Status: 303},
		{Method: "GET", Path: "/ui/login/{code}", Summary: "the form that uses a one-time login link", Status: 200, ResponseType: html},
		{Method: "POST", Path: "/ui/login/{code}", Summary: "sign in with a one-time login link", Status: 303},
		{Method: "POST", Path: "/ui/logout", Summary: "sign out", Status: 303},
		{Method: "GET", Path: "/ui/releases/{tenant}/{repo}/{release}", Summary: "a release's page: generations, rounds, recent changes and charts (a session cookie or a bearer token of the tenant)", Status: 200, ResponseType: html},
		{Method: "POST", Path: "/v1/ui/codes", Summary: "make a one-time login link for the operator page", Security: "operator", Status: 201, Response: wire.LoginLink{}},
	}
}
