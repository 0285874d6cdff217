package faults3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/faults3"
)

// bundle is a proxy in front of the test S3 server, a store that talks
// through it, a store that talks to S3 directly (to see what really
// landed), and a key prefix of the test's own.
type bundle struct {
	proxy  *faults3.Proxy
	via    *blob.S3
	direct *blob.S3
	prefix string
}

func setup(t *testing.T, cfg faults3.Config) bundle {
	t.Helper()
	direct, prefix := blobtest.New(t)
	s3cfg := blobtest.Config(t)
	p, err := faults3.New(s3cfg.Endpoint, cfg)
	require.NoError(t, err)
	url, err := p.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	s3cfg.Endpoint = url
	s3cfg.PartSize = 5 << 20
	via, err := blob.NewS3(t.Context(), s3cfg)
	require.NoError(t, err)
	return bundle{proxy: p, via: via, direct: direct, prefix: prefix}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

func read(t *testing.T, b blob.Blob, key string) ([]byte, error) {
	t.Helper()
	body, _, err := b.Get(t.Context(), key, "")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// httpStatus is the HTTP status of a failed S3 call, 0 when none came back.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestPassThrough: with every rate at 0 the proxy is invisible: signed
// requests of every kind aptq makes verify at the server and behave as
// they do without the proxy, conditional writes included.
func TestPassThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, faults3.Config{})
	ctx := t.Context()
	key := b.prefix + "dists/stable/InRelease"

	first := []byte("generation 1\n")
	info, err := b.via.Put(ctx, key, bytes.NewReader(first), int64(len(first)), blob.PutOptions{IfNoneMatch: true})
	require.NoError(t, err)
	_, err = b.via.Put(ctx, key, bytes.NewReader(first), int64(len(first)), blob.PutOptions{IfNoneMatch: true})
	require.ErrorIs(t, err, blob.ErrPrecondition, "If-None-Match reaches the server")
	second := []byte("generation 2\n")
	_, err = b.via.Put(ctx, key, bytes.NewReader(second), int64(len(second)), blob.PutOptions{IfMatch: "0123"})
	require.ErrorIs(t, err, blob.ErrPrecondition, "If-Match reaches the server")
	_, err = b.via.Put(ctx, key, bytes.NewReader(second), int64(len(second)), blob.PutOptions{IfMatch: info.ETag})
	require.NoError(t, err)

	got, err := read(t, b.direct, key)
	require.NoError(t, err)
	require.Equal(t, second, got)
	got, err = read(t, b.via, key)
	require.NoError(t, err)
	require.Equal(t, second, got)
	body, rinfo, err := b.via.Get(ctx, key, "bytes=0-9")
	require.NoError(t, err)
	part, err := io.ReadAll(body)
	body.Close()
	require.NoError(t, err)
	require.Equal(t, second[:10], part)
	require.Equal(t, int64(len(second)), rinfo.Size)

	// A key with characters SigV4 and S3 escape differently.
	odd := b.prefix + "pool/main/h/hello/hello_1:2.0+b~1_amd64.deb"
	_, err = b.via.Put(ctx, odd, strings.NewReader("deb"), 3, blob.PutOptions{})
	require.NoError(t, err)
	cinfo, err := b.via.Copy(ctx, odd, odd+".copy")
	require.NoError(t, err)
	require.Equal(t, int64(3), cinfo.Size)

	// A streamed multipart upload: three parts of 5 MiB and a bit.
	big := randomBytes(11<<20, 1)
	_, err = b.via.Put(ctx, b.prefix+"big", io.MultiReader(bytes.NewReader(big)), -1, blob.PutOptions{})
	require.NoError(t, err)
	got, err = read(t, b.direct, b.prefix+"big")
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "multipart upload arrives intact")

	var keys []string
	require.NoError(t, b.via.List(ctx, b.prefix, func(i blob.Info) error { keys = append(keys, i.Key); return nil }))
	require.Len(t, keys, 4)
	_, err = b.via.Head(ctx, b.prefix+"missing")
	require.ErrorIs(t, err, blob.ErrNotFound)
	require.NoError(t, b.via.Delete(ctx, odd))
	_, err = b.direct.Head(ctx, odd)
	require.ErrorIs(t, err, blob.ErrNotFound)

	s := b.proxy.Stats()
	require.Positive(t, s.Requests)
	require.Equal(t, s.Requests, s.Forwarded)
	require.Zero(t, s.Errors)
	require.Zero(t, s.Resets())
	require.Zero(t, s.Delayed)
}

// TestErrorRateOne: every request gets a 500 and none reaches the server.
func TestErrorRateOne(t *testing.T) {
	t.Parallel()
	b := setup(t, faults3.Config{ErrorRate: 1})
	ctx := t.Context()
	key := b.prefix + "x"
	data := []byte("never stored")

	_, err := b.via.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blob.PutOptions{IfNoneMatch: true})
	require.Error(t, err)
	require.Equal(t, http.StatusInternalServerError, httpStatus(err), "%v", err)
	require.Contains(t, err.Error(), "InternalError")
	_, err = b.via.Head(ctx, key)
	require.Error(t, err)
	require.Equal(t, http.StatusInternalServerError, httpStatus(err), "%v", err)
	// Large enough for the SDK to send Expect: 100-continue.
	big := randomBytes(3<<20, 2)
	_, err = b.via.Put(ctx, key, bytes.NewReader(big), int64(len(big)), blob.PutOptions{IfNoneMatch: true})
	require.Equal(t, http.StatusInternalServerError, httpStatus(err), "%v", err)

	_, err = b.direct.Head(ctx, key)
	require.ErrorIs(t, err, blob.ErrNotFound, "a 500 from the proxy means the server never saw the write")
	s := b.proxy.Stats()
	require.GreaterOrEqual(t, s.Requests, int64(3), "the SDK retries the HEAD: %v", s)
	require.Equal(t, s.Requests, s.Errors, "%v", s)
	require.Zero(t, s.Forwarded)
}

// TestResetRateOne: every request reaches the server (whole or cut short)
// and the client gets a reset instead of the answer. A PUT then may or may
// not have landed, but what landed is always the whole object: never a
// partial one. With a fixed seed and one request at a time, the choices are
// known from the counters: every PUT forwarded whole landed, every PUT cut
// short did not.
func TestResetRateOne(t *testing.T) {
	t.Parallel()
	b := setup(t, faults3.Config{ResetRate: 1, Seed: 42})
	ctx := t.Context()
	const n = 24
	bodies := make([][]byte, n)
	for i := range n {
		// From empty to a few hundred KiB, some large enough for 100-continue.
		bodies[i] = randomBytes(i*i*5000, uint64(i))
		key := b.prefix + "reset/" + strconv.Itoa(i)
		// Conditional: one attempt, no SDK retry.
		_, err := b.via.Put(ctx, key, bytes.NewReader(bodies[i]), int64(len(bodies[i])), blob.PutOptions{IfNoneMatch: true})
		require.Error(t, err, "put %d: the client must not get an answer", i)
		require.Zero(t, httpStatus(err), "put %d: a reset, not an HTTP answer: %v", i, err)
	}
	landed := 0
	for i := range n {
		got, err := read(t, b.direct, b.prefix+"reset/"+strconv.Itoa(i))
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		require.True(t, bytes.Equal(bodies[i], got), "put %d landed with %d of %d bytes", i, len(got), len(bodies[i]))
		landed++
	}
	s := b.proxy.Stats()
	require.Equal(t, int64(n), s.Requests, "%v", s)
	require.Equal(t, int64(n), s.Resets(), "%v", s)
	require.Equal(t, s.ResetsAfterForward, int64(landed), "every PUT forwarded whole landed, no other: %v", s)
	require.Positive(t, s.ResetsAfterForward, "seed 42 gives both kinds: %v", s)
	require.Positive(t, s.ResetsMidRequest, "seed 42 gives both kinds: %v", s)

	// An unconditional PUT is retried by the SDK (with backoff: seconds), each
	// attempt reset: the call fails, and the object is whole or absent.
	key := b.prefix + "retried"
	data := randomBytes(100_000, 100)
	_, err := b.via.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blob.PutOptions{})
	require.Error(t, err)
	got, err := read(t, b.direct, key)
	if !errors.Is(err, blob.ErrNotFound) {
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "retried put is partial")
	}
	require.Greater(t, b.proxy.Stats().Requests, int64(n+1), "the SDK retried the unconditional PUT")
}

// TestRatesChangeAtRunTime: the setters take effect on the next request,
// and the counters follow.
func TestRatesChangeAtRunTime(t *testing.T) {
	t.Parallel()
	b := setup(t, faults3.Config{})
	ctx := t.Context()
	key := b.prefix + "k"
	put := func() error {
		_, err := b.via.Put(ctx, key, strings.NewReader("v"), 1, blob.PutOptions{IfNoneMatch: true})
		return err
	}
	require.NoError(t, put())
	b.proxy.SetErrorRate(1)
	require.Equal(t, http.StatusInternalServerError, httpStatus(put()))
	b.proxy.SetFaults(faults3.Config{})
	require.ErrorIs(t, put(), blob.ErrPrecondition)
	b.proxy.SetResetRate(1)
	err := put()
	require.Error(t, err)
	require.Zero(t, httpStatus(err))
	b.proxy.SetResetRate(0)

	b.proxy.SetLatency(1, 200*time.Millisecond)
	start := time.Now()
	_, err = b.via.Head(ctx, key)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "latency is at least half the setting")
	b.proxy.SetLatency(0, 0)

	s := b.proxy.Stats()
	// The reset forwarded the PUT, or cut it short: either is one reset.
	require.Equal(t, faults3.Stats{Requests: 5, Forwarded: 3 + s.ResetsAfterForward, Errors: 1,
		ResetsAfterForward: s.ResetsAfterForward, ResetsMidRequest: s.ResetsMidRequest, Delayed: 1}, s)
	require.Equal(t, int64(1), s.Resets())
}

// TestMatch: faults hit only the requests Match selects.
func TestMatch(t *testing.T) {
	t.Parallel()
	b := setup(t, faults3.Config{ErrorRate: 1, Match: func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/InRelease")
	}})
	ctx := t.Context()
	_, err := b.via.Put(ctx, b.prefix+"Release", strings.NewReader("r"), 1, blob.PutOptions{IfNoneMatch: true})
	require.NoError(t, err)
	_, err = b.via.Put(ctx, b.prefix+"InRelease", strings.NewReader("r"), 1, blob.PutOptions{IfNoneMatch: true})
	require.Equal(t, http.StatusInternalServerError, httpStatus(err))
	_, err = b.via.Head(ctx, b.prefix+"Release")
	require.NoError(t, err)
	require.Equal(t, int64(1), b.proxy.Stats().Errors)
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := faults3.New("127.0.0.1:1", faults3.Config{})
	require.Error(t, err)
	_, err = faults3.New("http://127.0.0.1:1", faults3.Config{ErrorRate: 1.5})
	require.Error(t, err)
	_, err = faults3.New("http://127.0.0.1:1", faults3.Config{ResetRate: -0.1})
	require.Error(t, err)
}

// waitFor fails the test unless ch is closed within d.
func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestStreamsBodiesAndKeepsHost: the server sees a request's first bytes
// before the client has sent the rest, the client sees the answer's first
// bytes before the server has written the rest (nothing is buffered whole),
// and the server gets the Host header the client used (SigV4 signs it).
func TestStreamsBodiesAndKeepsHost(t *testing.T) {
	t.Parallel()
	gotFirst := make(chan struct{})
	sentFirst := make(chan struct{})
	host := make(chan string, 1)
	upstream := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		host <- r.Host
		buf := make([]byte, 1<<20)
		_, err := io.ReadFull(r.Body, buf)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(gotFirst) // the client is blocked until it sees this
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Rest", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(bytes.Repeat([]byte("a"), 1<<20))
		http.NewResponseController(w).Flush()
		<-sentFirst // the client has read the first MiB of the answer
		_, _ = w.Write(bytes.Repeat([]byte("b"), 1<<20))
	})
	p, err := faults3.New(upstream, faults3.Config{})
	require.NoError(t, err)
	url, err := p.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(make([]byte, 1<<20))
		select {
		case <-gotFirst:
			_, _ = pw.Write(make([]byte, 3<<20))
			_ = pw.Close()
		case <-time.After(10 * time.Second):
			_ = pw.CloseWithError(errors.New("the server never saw the first MiB: the proxy buffers requests"))
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/bucket/key", pr)
	require.NoError(t, err)
	req.Host = "s3.example.test:1234"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "3145728", resp.Header.Get("X-Rest"))
	first := make([]byte, 1<<20)
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	close(sentFirst)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Len(t, rest, 1<<20)
	waitFor(t, gotFirst, time.Second, "upstream")
	require.Equal(t, "s3.example.test:1234", <-host)
}

// newUpstream serves h on loopback for the test and returns its URL.
func newUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
