// Package wire holds the JSON of aptq's HTTP API: every request and
// response body, the job states and the error codes, defined once for the
// server (api) and its client (client). It imports only the standard
// library, so that a program built on the client carries no server code.
//
// Field tags are the contract: the server encodes these types and the
// client decodes them (and the other way round for requests), and the
// OpenAPI document (api/openapi.json, served at /v1/openapi.json) is
// generated from them: a changed tag changes that committed document.
//
// Files are by topic; a new route adds its types in a file of its own.
package wire
