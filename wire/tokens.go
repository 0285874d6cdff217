package wire

import "time"

// Token scopes, from least to most power.
const (
	ScopeRead    = "read"    // list and show
	ScopePublish = "publish" // also upload, change, sign, cancel, retry, resign, roll back, reconcile
	ScopeAdmin   = "admin"   // also repositories, releases, keys, tokens and the audit log
)

// TokenRef names the token that did something: submitted a change, signed
// a round, made an audited action.
type TokenRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// TokenRequest creates a token of the tenant with a scope and, for read
// and publish, optionally the repositories it is limited to.
type TokenRequest struct {
	Name  string   `json:"name"`
	Scope string   `json:"scope"`
	Repos []string `json:"repos,omitempty"`
}

// Token is an API token; Token (the secret) only when just created. Repos
// limits a read or publish token to those repositories; null: all of them.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Repos     []string   `json:"repos"`
	Token     string     `json:"token,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// TokenList is the tenant's tokens, without secrets.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// Whoami is the tenant token a request carries; an operator token gets
// OperatorWhoami instead.
type Whoami struct {
	Repos    []string `json:"repos"`
	Scope    string   `json:"scope"`
	Tenant   string   `json:"tenant"`
	TenantID int64    `json:"tenant_id"`
	Token    TokenRef `json:"token"`
}

// OperatorWhoami is what an operator token is.
type OperatorWhoami struct {
	Operator bool `json:"operator"`
}

// TenantRequest creates a tenant.
type TenantRequest struct {
	Name string `json:"name"`
}

// Tenant is a tenant just created, with its first token.
type Tenant struct {
	CreatedAt time.Time `json:"created_at"`
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
}

// TenantSummary is a tenant in an operator's list: what it holds.
type TenantSummary struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	CreatedAt    time.Time `json:"created_at"`
	Repositories int       `json:"repositories"`
	Tokens       int       `json:"tokens"` // not revoked
}

// TenantList is every tenant, oldest first.
type TenantList struct {
	Tenants []TenantSummary `json:"tenants"`
}

// LoginLink is a one-time link that signs a browser in to the operator page.
type LoginLink struct {
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url"`
}

// AuditEntry is one administrative action of the tenant.
type AuditEntry struct {
	ID      int64          `json:"id"`
	Token   *TokenRef      `json:"token"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details"`
	At      time.Time      `json:"at"`
}

// AuditPage is one page of the audit log, newest first; NextCursor is 0 on
// the last.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor int64        `json:"next_cursor,omitempty"`
}
