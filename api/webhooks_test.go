package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/wire"
)

// TestWebhookLifecycle: add shows the secret once; list never shows it;
// deliveries of a new webhook are none; remove, then remove again is 404.
func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	var created wire.Webhook
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/webhooks",
		wire.WebhookCreate{URL: "https://hooks.example.com/aptq", Events: []string{"failed", "failed"}}, &created))
	require.True(t, strings.HasPrefix(created.Secret, "whsec_"), created.Secret)
	require.Equal(t, []string{"failed"}, created.Events, "duplicates fold")

	var list wire.WebhookList
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos/mine/webhooks", nil, &list))
	require.Len(t, list.Webhooks, 1)
	require.Empty(t, list.Webhooks[0].Secret, "the secret is shown only at creation")
	require.Equal(t, created.ID, list.Webhooks[0].ID)

	var all wire.Webhook
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/webhooks",
		wire.WebhookCreate{URL: "http://hooks.example.com:8080/x?y=1"}, &all))
	require.Equal(t, []string{"published", "failed"}, all.Events, "no events means every event")

	var deliveries wire.WebhookDeliveryList
	path := fmt.Sprintf("/v1/repos/mine/webhooks/%d", created.ID)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, path+"/deliveries", nil, &deliveries))
	require.NotNil(t, deliveries.Deliveries)
	require.Empty(t, deliveries.Deliveries)

	require.Equal(t, http.StatusNoContent, b.do(http.MethodDelete, path, nil, nil))
	b.expectError(http.MethodDelete, path, nil, http.StatusNotFound, store.CodeNotFound)
	b.expectError(http.MethodGet, path+"/deliveries", nil, http.StatusNotFound, store.CodeNotFound)
	b.expectError(http.MethodDelete, "/v1/repos/mine/webhooks/x", nil, http.StatusBadRequest, codeBadRequest)
	b.expectError(http.MethodDelete, "/v1/repos/mine/webhooks/-1", nil, http.StatusBadRequest, codeBadRequest)
	var n int
	require.NoError(t, b.store.Pool.QueryRow(b.t.Context(),
		`SELECT count(*) FROM audit_log WHERE action IN ('webhook.add', 'webhook.remove')`).Scan(&n))
	require.Equal(t, 3, n, "adds and the remove are audited")
}

// TestWebhookURLAttacks replays URLs an attacker would register to make the
// worker reach what it should not (SSRF): each is 422 invalid with the
// reason, and no webhook is recorded. With private addresses allowed by the
// operator, loopback is accepted, other schemes still are not.
func TestWebhookURLAttacks(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	attacks := map[string]string{
		"file:///etc/passwd":                               "scheme",
		"gopher://127.0.0.1:6379/_FLUSHALL":                "scheme",
		"ftp://example.com/x":                              "scheme",
		"javascript:alert(1)":                              "unparsable",
		"mailto:a@example.com":                             "unparsable",
		"//example.com/x":                                  "scheme",
		"http://169.254.169.254/latest/meta-data/":         "private_address",
		"http://[fe80::1%25eth0]/":                         "host",
		"http://127.0.0.1:8080/":                           "private_address",
		"http://[::1]/":                                    "private_address",
		"http://[::ffff:127.0.0.1]/":                       "private_address",
		"http://10.1.2.3/":                                 "private_address",
		"http://192.168.0.1/":                              "private_address",
		"http://100.64.0.1/":                               "private_address",
		"http://0.0.0.0/":                                  "private_address",
		"http://localhost:9000/":                           "private_address",
		"http://metadata.localhost./":                      "private_address",
		"https://user:pass@example.com/":                   "credentials",
		"https:///nohost":                                  "host",
		"https://example.com/" + strings.Repeat("a", 2100): "too_long",
	}
	for raw, reason := range attacks {
		e := b.expectError(http.MethodPost, "/v1/repos/mine/webhooks", wire.WebhookCreate{URL: raw},
			http.StatusUnprocessableEntity, store.CodeInvalid)
		require.Equal(t, reason, e.Details["reason"], raw)
	}
	e := b.expectError(http.MethodPost, "/v1/repos/mine/webhooks",
		wire.WebhookCreate{URL: "https://example.com/", Events: []string{"published", "deleted"}},
		http.StatusUnprocessableEntity, store.CodeInvalid)
	require.Equal(t, "unknown_event", e.Details["reason"])
	b.expectError(http.MethodPost, "/v1/repos/mine/webhooks", map[string]any{"url": "https://example.com/", "secret": "mine"},
		http.StatusBadRequest, codeBadRequest)
	require.Zero(t, b.count("webhooks"))
	require.Zero(t, b.countWhere("audit_log", "action LIKE 'webhook.%'"))

	allowed := setupWith(t, func(c *Config) { c.WebhookAllowPrivate = true })
	require.Equal(t, http.StatusCreated, allowed.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	require.Equal(t, http.StatusCreated, allowed.do(http.MethodPost, "/v1/repos/mine/webhooks",
		wire.WebhookCreate{URL: "http://127.0.0.1:9/hook"}, nil))
	allowed.expectError(http.MethodPost, "/v1/repos/mine/webhooks", wire.WebhookCreate{URL: "file:///etc/passwd"},
		http.StatusUnprocessableEntity, store.CodeInvalid)
}

// TestWebhookLimit: a repository has at most store.MaxWebhooks webhooks.
func TestWebhookLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "mine"}, nil))
	for i := range store.MaxWebhooks {
		require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/mine/webhooks",
			wire.WebhookCreate{URL: fmt.Sprintf("https://hooks.example.com/%d", i)}, nil))
	}
	b.expectError(http.MethodPost, "/v1/repos/mine/webhooks", wire.WebhookCreate{URL: "https://hooks.example.com/x"},
		http.StatusUnprocessableEntity, store.CodeQuotaExceeded)
	require.Equal(t, store.MaxWebhooks, b.count("webhooks"))
}

// FuzzWebhookURL checks what checkWebhookURL promises of any string: an
// accepted URL is http or https, has a host, no credentials, and, unless
// private addresses are allowed, no literal non-public address. The seed
// corpus is testdata/fuzz/FuzzWebhookURL.
func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hook", "http://127.0.0.1/", "http://[::ffff:10.0.0.1]/",
		"file:///etc/passwd", "http://user@example.com/", "HTTP://EXAMPLE.COM", "http://2130706433/"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowPrivate bool) {
		if checkWebhookURL(raw, allowPrivate) != nil {
			return
		}
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		require.NotEmpty(t, u.Hostname())
		require.Nil(t, u.User)
		require.LessOrEqual(t, len(raw), maxWebhookURL)
		if addr, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate {
			require.True(t, store.PublicAddr(addr), raw)
		}
	})
}
