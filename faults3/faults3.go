// Package faults3 is a fault-injecting reverse proxy for an S3 server, for
// tests that must show aptq survives a misbehaving object store.
//
// Point a blob.S3 (or aptqd's APTQ_S3_ENDPOINT) at the proxy's URL instead
// of the S3 server's. The proxy forwards each request as it came (only
// hop-by-hop headers go, as through any proxy), the Host header included:
// SigV4 signs it, the client signed for the proxy's host, and the server
// checks the signature against the Host it receives, so keeping it makes
// signatures verify without the proxy knowing any key. Bodies stream in both
// directions; nothing is buffered whole.
//
// Each request may, at random and at rates that can change at run time:
//
//   - fail with 500 InternalError (an S3 XML error body) without reaching the
//     server (the request body is read and dropped first, as a server would);
//   - reach the server and then lose its answer: the proxy resets the client's
//     connection (TCP RST) instead of answering. Half of these forward the whole
//     request, so the write happened; the other half cut the request body
//     short, so the server sees an aborted upload. Either way the client cannot
//     tell which — the hardest real failure for a writer;
//   - be delayed.
//
// Stats counts what was injected.
package faults3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets the fault rates, each a probability in [0, 1] per request.
// A request gets at most one of the error and reset faults (ErrorRate is
// drawn first); latency is drawn independently.
type Config struct {
	// ErrorRate answers 500 InternalError without forwarding (after reading
	// and dropping the request body).
	ErrorRate float64
	// ResetRate forwards the request (whole, or for half of them with the body
	// cut short) and then resets the client's connection instead of answering.
	ResetRate float64
	// LatencyRate delays a request, before forwarding, by a time drawn
	// uniformly from [Latency/2, 3*Latency/2).
	LatencyRate float64
	Latency     time.Duration
	// Seed seeds the random choices; 0 picks a random seed. Choices are
	// reproducible only as far as the order of concurrent requests is.
	Seed int64
	// Match, if set, limits faults to the requests for which it returns true
	// (e.g. only PUTs, or only keys ending in /InRelease); others always pass.
	// It must not read the request body.
	Match func(*http.Request) bool
}

// Stats counts the requests the proxy saw and the faults it injected.
type Stats struct {
	Requests int64 // every request received
	// Forwarded counts requests sent to the server in full: passed through,
	// or reset after the server answered.
	Forwarded int64
	Errors    int64 // 500s injected without forwarding
	// ResetsAfterForward: the server handled the whole request; the client
	// got a reset instead of the answer.
	ResetsAfterForward int64
	// ResetsMidRequest: the request body was cut short (the server saw an
	// aborted request; a request without a body was not forwarded at all);
	// the client got a reset.
	ResetsMidRequest int64
	Delayed          int64 // requests delayed
}

// Resets is the number of connections reset, both kinds.
func (s Stats) Resets() int64 { return s.ResetsAfterForward + s.ResetsMidRequest }

func (s Stats) String() string {
	return fmt.Sprintf("requests %d, forwarded %d, 500s %d, resets %d (%d after forwarding, %d mid-request), delayed %d",
		s.Requests, s.Forwarded, s.Errors, s.Resets(), s.ResetsAfterForward, s.ResetsMidRequest, s.Delayed)
}

// Proxy is the fault-injecting reverse proxy; it is an http.Handler. Its
// methods are safe for concurrent use.
type Proxy struct {
	proxy *httputil.ReverseProxy
	match func(*http.Request) bool

	errorRate, resetRate, latencyRate atomic.Uint64 // float64 bits
	latency                           atomic.Int64  // time.Duration

	rngMu sync.Mutex
	rng   *rand.Rand

	requests, forwarded, errs, resetsAfter, resetsMid, delayed atomic.Int64

	mu     sync.Mutex
	server *http.Server
}

var _ http.Handler = (*Proxy)(nil)

// New returns a proxy to the S3 server at target, e.g. "http://127.0.0.1:57070".
func New(target string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faults3: target %q is not an http(s) URL", target)
	}
	for _, r := range []float64{cfg.ErrorRate, cfg.ResetRate, cfg.LatencyRate} {
		if err := checkRate(r); err != nil {
			return nil, err
		}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Int64()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 128
	// The proxy must not change what the client signed: no transparent
	// gzip (it would add Accept-Encoding and strip Content-Encoding).
	transport.DisableCompression = true
	p := &Proxy{
		match: cfg.Match,
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>1^0x9e3779b97f4a7c15)),
		proxy: &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				// SigV4 signs the Host header: forward the one the client used.
				pr.Out.Host = pr.In.Host
			},
			Transport: transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// The server is unreachable, or (for a cut request) the
				// upload was aborted on purpose.
				w.WriteHeader(http.StatusBadGateway)
			},
		},
	}
	p.SetErrorRate(cfg.ErrorRate)
	p.SetResetRate(cfg.ResetRate)
	p.SetLatency(cfg.LatencyRate, cfg.Latency)
	return p, nil
}

func checkRate(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("faults3: rate %v is not in [0, 1]", r)
	}
	return nil
}

func clampRate(r float64) float64 {
	if math.IsNaN(r) || r < 0 {
		return 0
	}
	return min(r, 1)
}

// SetErrorRate changes the rate of injected 500s (clamped to [0, 1]).
func (p *Proxy) SetErrorRate(r float64) { p.errorRate.Store(math.Float64bits(clampRate(r))) }

// SetResetRate changes the rate of reset connections (clamped to [0, 1]).
func (p *Proxy) SetResetRate(r float64) { p.resetRate.Store(math.Float64bits(clampRate(r))) }

// SetLatency changes the rate and size of injected delays.
func (p *Proxy) SetLatency(rate float64, d time.Duration) {
	p.latencyRate.Store(math.Float64bits(clampRate(rate)))
	p.latency.Store(int64(max(d, 0)))
}

// SetFaults sets all three rates (and the latency) at once from cfg; Seed
// and Match are ignored. SetFaults(Config{}) turns every fault off.
func (p *Proxy) SetFaults(cfg Config) {
	p.SetErrorRate(cfg.ErrorRate)
	p.SetResetRate(cfg.ResetRate)
	p.SetLatency(cfg.LatencyRate, cfg.Latency)
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests:           p.requests.Load(),
		Forwarded:          p.forwarded.Load(),
		Errors:             p.errs.Load(),
		ResetsAfterForward: p.resetsAfter.Load(),
		ResetsMidRequest:   p.resetsMid.Load(),
		Delayed:            p.delayed.Load(),
	}
}

type fault int

const (
	faultNone fault = iota
	faultError
	faultResetAfter
	faultResetMid
)

// decide draws this request's faults.
func (p *Proxy) decide() (f fault, delay time.Duration, cutFraction float64) {
	errRate := math.Float64frombits(p.errorRate.Load())
	resetRate := math.Float64frombits(p.resetRate.Load())
	latRate := math.Float64frombits(p.latencyRate.Load())
	lat := time.Duration(p.latency.Load())

	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	switch x := p.rng.Float64(); {
	case x < errRate:
		f = faultError
	case x < errRate+resetRate:
		f = faultResetAfter
		if p.rng.IntN(2) == 0 {
			f = faultResetMid
		}
		cutFraction = p.rng.Float64()
	}
	if lat > 0 && p.rng.Float64() < latRate {
		delay = lat/2 + time.Duration(p.rng.Int64N(int64(lat)))
	}
	return f, delay, cutFraction
}

// ServeHTTP forwards r to the S3 server, or injects a fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f, delay, cut := faultNone, time.Duration(0), 0.0
	if p.match == nil || p.match(r) {
		f, delay, cut = p.decide()
	}
	if delay > 0 {
		p.delayed.Add(1)
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	switch f {
	case faultNone:
		p.forwarded.Add(1)
		p.proxy.ServeHTTP(w, r)
	case faultError:
		p.errs.Add(1)
		writeInternalError(w, r, p.requests.Load())
	case faultResetAfter:
		p.resetsAfter.Add(1)
		p.forwarded.Add(1)
		p.forwardAndReset(w, r, -1)
	case faultResetMid:
		p.resetsMid.Add(1)
		limit := int64(0)
		if r.ContentLength > 0 {
			limit = int64(float64(r.ContentLength) * cut)
		}
		p.forwardAndReset(w, r, limit)
	}
}

// forwardAndReset sends r to the server — whole when limit < 0, else only
// its first limit body bytes, then an error that aborts the upload (a request
// without a body is then not sent at all) — waits for the server to finish,
// drops its answer, and resets the client's connection.
func (p *Proxy) forwardAndReset(w http.ResponseWriter, r *http.Request, limit int64) {
	if limit >= 0 {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			resetConn(w)
			return
		}
		r.Body = &cutBody{r: r.Body, left: limit}
	}
	p.proxy.ServeHTTP(&discardWriter{header: http.Header{}}, r)
	resetConn(w)
}

// resetConn takes the client's connection over and closes it with a TCP
// RST (SO_LINGER 0), so the client sees "connection reset by peer" and no
// answer at all.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): the closest we can do is abort the handler,
		// which makes the server drop the stream.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// errCut is the read error that aborts a forwarded upload.
var errCut = errors.New("faults3: request body cut short")

// cutBody passes the first left bytes of a body, then fails.
type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

// discardWriter is the ResponseWriter of a request whose answer is dropped;
// the reverse proxy still reads the server's answer to the end.
type discardWriter struct {
	header http.Header
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// drainLimit bounds how much of a request body the proxy reads and drops
// before it answers with an injected error (more than one 8 MiB part).
const drainLimit = 64 << 20

// writeInternalError answers like S3 does when it fails internally. The
// request body is read and dropped first (up to drainLimit): answering
// while the client still sends would make the server close a connection
// with unread data, which TCP turns into a reset that can destroy the
// answer before the client reads it — a reset, not the 500 this fault is.
func writeInternalError(w http.ResponseWriter, r *http.Request, n int64) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
	}
	id := "faults3-" + strconv.FormatInt(n, 10)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", id)
	w.WriteHeader(http.StatusInternalServerError)
	if r.Method == http.MethodHead {
		return
	}
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><Resource>`)
	_ = xml.EscapeText(w, []byte(r.URL.Path))
	io.WriteString(w, `</Resource><RequestId>`+id+`</RequestId></Error>`)
}

// Start serves the proxy on addr (e.g. "127.0.0.1:0") and returns its URL,
// for use as an S3 endpoint. Close stops it.
func (p *Proxy) Start(addr string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.server != nil {
		return "", errors.New("faults3: already started")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("faults3: listen: %w", err)
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

// Close stops the server Start started and drops its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.server == nil {
		return nil
	}
	err := p.server.Close()
	p.server = nil
	return err
}

// Shutdown stops the server gracefully, waiting for requests in flight
// until ctx ends.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	srv := p.server
	p.server = nil
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}
