package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// bundle is an API server on a fresh database and the real S3, and a tenant.
type bundle struct {
	t      *testing.T
	store  *store.Store
	server *httptest.Server
	token  string
	tenant store.Tenant
	api    *Server
}

func setup(t *testing.T, maxUpload int64) *bundle {
	t.Helper()
	return setupWith(t, func(c *Config) { c.MaxUploadBytes = maxUpload })
}

// setupWith is setup with a Config that configure may change.
func setupWith(t *testing.T, configure func(*Config)) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := storetest.NewStore(t)
	s3, _ := blobtest.New(t)
	rc, err := river.NewClient(riverpgxv5.New(st.Pool), &river.Config{})
	require.NoError(t, err)
	listener := store.NewListener(st.Pool, slog.New(slog.DiscardHandler))
	go listener.Run(ctx)
	// The server's address is its external URL: known before it serves.
	ts := httptest.NewUnstartedServer(nil)
	cfg := Config{Store: st, Blob: s3, River: rc, Listener: listener, Logger: slog.New(slog.DiscardHandler),
		Partitions: 4, Metrics: metrics.New(), ExternalURL: "http://" + ts.Listener.Addr().String()}
	configure(&cfg)
	srv := New(cfg)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	b := &bundle{t: t, store: st, server: ts, api: srv}
	t.Cleanup(b.server.Close)
	b.tenant, b.token, err = st.CreateTenant(ctx, "api-"+randomSuffix()[:10])
	require.NoError(t, err)
	return b
}

// do sends a request as the tenant and decodes a JSON answer into out (if not nil).
func (b *bundle) do(method, path string, body any, out any) int {
	b.t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		require.NoError(b.t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.server.URL+path, r)
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(b.t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// expectError sends a request and checks the status and error code.
func (b *bundle) expectError(method, path string, body any, status int, code string) ErrorBody {
	b.t.Helper()
	var e ErrorBody
	got := b.do(method, path, body, &e)
	require.Equal(b.t, status, got, "%s %s: %+v", method, path, e)
	require.Equal(b.t, code, e.Code, "%s %s: %+v", method, path, e)
	return e
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// count returns the rows of a table, to show a rejected request changed nothing.
func (b *bundle) count(table string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.store.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}
