package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/store"
)

// gatedBody sends head, then waits for the gate to open before sending tail.
type gatedBody struct {
	head, tail io.Reader
	gate       <-chan struct{}
	ctx        context.Context // gives up waiting: a test that would hang fails instead
}

func newGatedBody(ctx context.Context, head, tail []byte, gate <-chan struct{}) *gatedBody {
	return &gatedBody{ctx: ctx, head: bytes.NewReader(head), tail: bytes.NewReader(tail), gate: gate}
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if n, err := g.head.Read(p); err != io.EOF {
		return n, err
	}
	select {
	case <-g.gate:
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
	return g.tail.Read(p)
}

type uploadResult struct {
	status     int
	body       ErrorBody
	retryAfter string
	continued  bool // the server asked for the body (100 Continue)
	err        error
}

// upload sends deb (head, then tail once gate is open) as token with
// "Expect: 100-continue"; continued is closed when the server starts
// reading the body, which it does only once the upload has a slot.
func upload(t *testing.T, url, token string, head, tail []byte, gate <-chan struct{}) (continued <-chan struct{}, result <-chan uploadResult) {
	t.Helper()
	sum := sha256Hex(append(bytes.Clone(head), tail...))
	cont := make(chan struct{})
	res := make(chan uploadResult, 1)
	var got100 sync.Once
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { got100.Do(func() { close(cont) }) },
	})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/v1/packages/"+sum, newGatedBody(ctx, head, tail, gate))
	require.NoError(t, err)
	req.ContentLength = int64(len(head) + len(tail))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	go func() {
		defer cancel()
		resp, err := client.Do(req)
		if err != nil {
			res <- uploadResult{err: err}
			return
		}
		defer resp.Body.Close()
		r := uploadResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		_ = json.NewDecoder(resp.Body).Decode(&r.body)
		select {
		case <-cont:
			r.continued = true
		default:
		}
		res <- r
	}()
	return cont, res
}

func newDeb(t *testing.T, name string) []byte {
	return debtest.Build(t, debtest.Options{Package: name + "-" + randomSuffix()[:8]})
}

// TestUploadConcurrencyLimits: past the per-tenant limit a tenant's upload
// gets 429 with Retry-After before its body is read, while another tenant
// still uploads; past the server's limit everyone does.
func TestUploadConcurrencyLimits(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *Config) { c.MaxUploads, c.MaxTenantUploads = 3, 2 })
	_, otherToken, err := b.store.CreateTenant(t.Context(), "other-"+randomSuffix()[:10])
	require.NoError(t, err)
	gate := make(chan struct{})
	var inFlight []<-chan uploadResult
	start := func(token string) {
		deb := newDeb(t, "slot")
		cont, res := upload(t, b.server.URL, token, deb[:100], deb[100:], gate)
		<-cont
		inFlight = append(inFlight, res)
	}
	refused := func(token, scope string) {
		deb := newDeb(t, "refused")
		_, res := upload(t, b.server.URL, token, deb, nil, nil)
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, http.StatusTooManyRequests, r.status, "%+v", r.body)
		require.Equal(t, "too_many_uploads", r.body.Code)
		require.Equal(t, scope, r.body.Details["scope"])
		require.Equal(t, "5", r.retryAfter)
		require.False(t, r.continued, "the body was asked for")
	}

	start(b.token)
	start(b.token)
	refused(b.token, "tenant")
	start(otherToken) // another tenant still uploads
	refused(otherToken, "server")
	require.Zero(t, b.count("packages"))

	close(gate)
	for _, res := range inFlight {
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, http.StatusCreated, r.status, "%+v", r.body)
	}
	// The slots are free again.
	deb := newDeb(t, "after")
	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
}

// noUploadObject checks that no temporary object of content sum is left.
func noUploadObject(t *testing.T, b *bundle, sum string) {
	t.Helper()
	var keys []string
	require.NoError(t, b.api.blob.List(t.Context(), store.UploadKey(b.tenant.ID, sum, ""), func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	}))
	require.Empty(t, keys)
}

// TestUploadTooSlow replays a slowloris upload: a body that stops after a
// few bytes is cut off after the rate window with 408, and its temporary
// object is gone.
func TestUploadTooSlow(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *Config) { c.MinUploadRate, c.UploadRateWindow = 1024, 500*time.Millisecond })
	deb := newDeb(t, "slow")
	gate := make(chan struct{})
	defer close(gate)
	_, res := upload(t, b.server.URL, b.token, deb[:200], deb[200:], gate)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusRequestTimeout, r.status, "%+v", r.body)
	require.Equal(t, "upload_too_slow", r.body.Code)
	noUploadObject(t, b, sha256Hex(deb))
	require.Zero(t, b.count("packages"))

	require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
}

// TestUploadRefusedEarly: a body that is not a .deb is refused as soon as
// its first bytes show it, while the client is still sending: the rest is
// neither read nor stored.
func TestUploadRefusedEarly(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<30)
	// The head fits in the sockets' buffers, so the client has written it
	// all and waits at the gate when the answer comes: with a larger head it
	// could still be writing when the server, having answered, resets the
	// connection, and a slow client would then lose the answer.
	head := append([]byte("this is not a Debian package"), make([]byte, 32<<10)...)
	tail := make([]byte, 63<<20)
	gate := make(chan struct{}) // opened only after the answer: the server cannot wait for the tail
	_, res := upload(t, b.server.URL, b.token, head, tail, gate)
	r := <-res
	close(gate)
	require.NoError(t, r.err)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%+v", r.body)
	require.Equal(t, "invalid_package", r.body.Code)
	require.Contains(t, r.body.Message, "not a Debian binary package")
	noUploadObject(t, b, sha256Hex(append(head, tail...)))
	require.Zero(t, b.count("packages"))
}

// statusRecorder records the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestUploadClientHangsUp: a client that hangs up mid-upload is not a
// server error: no 503, no "database unreachable", nothing logged as failed.
func TestUploadClientHangsUp(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	b := setupWith(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	statuses := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		b.api.Handler().ServeHTTP(rec, r)
		statuses <- rec.status
	}))
	t.Cleanup(srv.Close)
	deb := debtest.Build(t, debtest.Options{Package: "hangup", DataSize: 1 << 20})

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "PUT /v1/packages/%s HTTP/1.1\r\nHost: aptq\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		sha256Hex(deb), b.token, len(deb))
	require.NoError(t, err)
	_, err = conn.Write(deb[:len(deb)/2])
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	require.Equal(t, http.StatusBadRequest, <-statuses)
	require.NotContains(t, logs.String(), "level=ERROR")
	require.NotContains(t, logs.String(), "status=5")
	noUploadObject(t, b, sha256Hex(deb))
	require.Zero(t, b.count("packages"))
}
