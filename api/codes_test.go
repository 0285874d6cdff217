package api

import "github.com/aptq/aptq/wire"

// Short names for the codes the package's tests assert.
const (
	codeBadRequest   = wire.CodeBadRequest
	codeForbidden    = wire.CodeForbidden
	codeTooLarge     = wire.CodeTooLarge
	codeTrailingData = wire.CodeTrailingData
)
