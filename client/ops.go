package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aptq/aptq/wire"
)

// JobFilter selects jobs for ListJobs; zero fields match all.
type JobFilter struct {
	Repo, Release, State string
	Since                string // RFC 3339 or a duration like 1h
	Limit                int
	Cursor               int64
}

// ListJobs lists jobs (every tenant's for an operator token).
func (c *Client) ListJobs(ctx context.Context, f JobFilter) (JobPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"repo": f.Repo, "release": f.Release, "state": f.State, "since": f.Since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Cursor > 0 {
		q.Set("cursor", strconv.FormatInt(f.Cursor, 10))
	}
	var page JobPage
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/jobs", query: q, timeout: c.requestTimeout}, &page)
	return page, err
}

// RetryJob enqueues a failed or cancelled job's change again as a new job.
func (c *Client) RetryJob(ctx context.Context, id int64) (JobRef, error) {
	var ref JobRef
	err := c.doJSON(ctx, http.MethodPost, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/retry", struct{}{}, &ref)
	return ref, err
}

// ListRounds lists a release's latest rounds, newest first.
func (c *Client) ListRounds(ctx context.Context, repo, release string) ([]RoundSummary, error) {
	var out wire.RoundList
	err := c.doJSON(ctx, http.MethodGet, releasePath(repo, release)+"/rounds", nil, &out)
	return out.Rounds, err
}

// CreateTenant (operator token) creates a tenant and returns its first token.
func (c *Client) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	var t Tenant
	err := c.doJSON(ctx, http.MethodPost, "/v1/tenants", wire.TenantRequest{Name: name}, &t)
	return t, err
}

// ListTenants (operator token) lists every tenant, oldest first.
func (c *Client) ListTenants(ctx context.Context) ([]TenantSummary, error) {
	var out wire.TenantList
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/tenants", timeout: c.requestTimeout}, &out)
	return out.Tenants, err
}

// CreateLoginLink (operator token) makes a one-time login link for the
// operator page, built from the server's external URL.
func (c *Client) CreateLoginLink(ctx context.Context) (LoginLink, error) {
	var l LoginLink
	err := c.doJSON(ctx, http.MethodPost, "/v1/ui/codes", struct{}{}, &l)
	return l, err
}

// Token scopes, from least to most power.
const (
	ScopeRead    = wire.ScopeRead
	ScopePublish = wire.ScopePublish
	ScopeAdmin   = wire.ScopeAdmin
)

// ListTokens lists the tenant's tokens, without secrets (admin scope).
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out wire.TokenList
	err := c.doJSON(ctx, http.MethodGet, "/v1/tokens", nil, &out)
	return out.Tokens, err
}

// CreateToken makes a new token of the tenant (admin scope) with a scope
// and, for read and publish, optionally the repositories it is limited to
// (nil: all); its secret is shown once.
func (c *Client) CreateToken(ctx context.Context, name, scope string, repos []string) (Token, error) {
	var t Token
	err := c.doJSON(ctx, http.MethodPost, "/v1/tokens", wire.TokenRequest{Name: name, Scope: scope, Repos: repos}, &t)
	return t, err
}

// ListAudit reads the tenant's audit log (admin scope); cursor 0 is the
// newest page.
func (c *Client) ListAudit(ctx context.Context, limit int, cursor int64) (AuditPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	var page AuditPage
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/audit", query: q, timeout: c.requestTimeout}, &page)
	return page, err
}

// RevokeToken revokes one of the tenant's tokens.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil)
}
