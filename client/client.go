// Package client is a Go client for the aptq HTTP API described in docs/api.md.
//
// Every method retries transient failures (connection refused or reset,
// timeouts, 502/503/504, and a few 500s) with exponential backoff and jitter,
// and 429 after the wait its Retry-After header names, until the caller's
// context ends. Answers with any other non-2xx status are
// returned at once as *APIError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aptq/aptq/wire"
)

// Defaults for the options below.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMinBackoff     = 200 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	// DefaultUnreachableAfter outlasts a server restart and stops a client
	// whose server is not there at all from retrying until its timeout.
	DefaultUnreachableAfter = 15 * time.Second
)

// A long poll may take the whole wait the server grants; the request
// timeout must outlast it, or every quiet poll would look like a failure.
const longPollMargin = 10 * time.Second

// Client talks to one aptq server with one token. It is safe for concurrent
// use and reuses connections.
type Client struct {
	base           string
	token          string
	http           *http.Client
	requestTimeout time.Duration
	backoff        backoff
	onRetry        func(Retry)
	// unreachableAfter is how long connections may keep failing before a
	// request gives up with an *UnreachableError.
	unreachableAfter time.Duration
}

// Retry describes a transient failure that is about to be retried.
type Retry struct {
	Method, Path string
	Attempt      int           // the attempt that failed, from 1
	Delay        time.Duration // the wait before the next attempt
	Err          error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default http.Client. Its Timeout should be zero:
// timeouts are set per request (see WithRequestTimeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithRequestTimeout bounds each attempt of an ordinary request
// (default DefaultRequestTimeout). Long polls get their wait plus a margin;
// uploads are bounded only by the caller's context, as large files take long.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.requestTimeout = d }
}

// WithBackoff sets the first and the longest wait between retries
// (defaults DefaultMinBackoff and DefaultMaxBackoff).
func WithBackoff(minDelay, maxDelay time.Duration) Option {
	return func(c *Client) { c.backoff = backoff{min: minDelay, max: maxDelay} }
}

// WithUnreachableAfter sets how long a request retries while the server
// cannot be reached at all (refused, no route, no DNS name) before it fails
// with an *UnreachableError (default DefaultUnreachableAfter).
func WithUnreachableAfter(d time.Duration) Option {
	return func(c *Client) { c.unreachableAfter = d }
}

// WithRetryHook calls f before each retry, e.g. to tell a user that the
// server is unreachable rather than stay silent for minutes.
func WithRetryHook(f func(Retry)) Option {
	return func(c *Client) { c.onRetry = f }
}

// New returns a Client for the server at baseURL (e.g. "http://127.0.0.1:8080")
// that authenticates with token.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"),
		// A token pasted from a file or a CI secret often ends in a newline.
		token:            strings.TrimSpace(token),
		requestTimeout:   DefaultRequestTimeout,
		backoff:          backoff{min: DefaultMinBackoff, max: DefaultMaxBackoff},
		unreachableAfter: DefaultUnreachableAfter,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c
}

// APIError is a non-2xx answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
	// RetryAfter is the wait the server asked for (its Retry-After header,
	// e.g. with 429 too_many_uploads); 0 when it named none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// ErrorCode returns the API error code in err's chain, or "" when err is not
// an *APIError.
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// call is one logical request; do may send it several times.
type call struct {
	method, path string
	query        url.Values
	// body returns the body of the next attempt; nil means no body.
	body        func() (io.ReadCloser, error)
	size        int64 // Content-Length of body; -1 when unknown
	contentType string
	// once forbids retrying, for bodies that cannot be sent twice.
	once bool
	// timeout bounds each attempt; 0 means only ctx does.
	timeout time.Duration
	// raw, when set, receives the body as is (at most maxBody bytes)
	// instead of decoding JSON.
	raw     *[]byte
	maxBody int64
}

// jsonCall builds a call whose body, if any, is in marshalled JSON.
func (c *Client) jsonCall(method, path string, in any) (call, error) {
	cl := call{method: method, path: path, timeout: c.requestTimeout}
	if in == nil {
		return cl, nil
	}
	data, err := json.Marshal(in)
	if err != nil {
		return cl, fmt.Errorf("%s %s: encode request: %w", method, path, err)
	}
	cl.body = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	cl.size = int64(len(data))
	cl.contentType = "application/json"
	return cl, nil
}

// doJSON sends in (when not nil) as JSON and decodes the answer into out
// (when not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	cl, err := c.jsonCall(method, path, in)
	if err != nil {
		return err
	}
	return c.do(ctx, cl, out)
}

// do sends cl, retrying transient failures until ctx ends, or until the
// server has been unreachable for longer than unreachableAfter.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	if err := checkToken(c.token); err != nil {
		return err
	}
	var lastErr error
	var unreachableSince time.Time
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, cl, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.gaveUp(ctx, cl, lastErr)
		}
		if cl.once || !transient(err, attempt) {
			return err
		}
		switch {
		case !unreachable(err):
			unreachableSince = time.Time{}
		case unreachableSince.IsZero():
			unreachableSince = time.Now()
		case time.Since(unreachableSince) >= c.unreachableAfter:
			return &UnreachableError{URL: c.base, For: time.Since(unreachableSince).Round(time.Second), Err: err}
		}
		lastErr = err
		delay := c.backoff.delay(attempt)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
			delay = jitterAfter(apiErr.RetryAfter)
		}
		if c.onRetry != nil {
			c.onRetry(Retry{Method: cl.method, Path: cl.path, Attempt: attempt, Delay: delay, Err: err})
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.gaveUp(ctx, cl, lastErr)
		case <-t.C:
		}
	}
}

// gaveUp reports the end of ctx together with the failure that was being
// retried, which is usually what the user needs to see.
func (c *Client) gaveUp(ctx context.Context, cl call, lastErr error) error {
	if lastErr != nil {
		return fmt.Errorf("%s %s: %w (last error: %v)", cl.method, cl.path, ctx.Err(), lastErr)
	}
	return fmt.Errorf("%s %s: %w", cl.method, cl.path, ctx.Err())
}

func (c *Client) attempt(ctx context.Context, cl call, out any) error {
	if cl.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cl.timeout)
		defer cancel()
	}
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.ReadCloser
	if cl.body != nil {
		var err error
		if body, err = cl.body(); err != nil {
			return fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		if body != nil {
			_ = body.Close()
		}
		return fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	if body != nil {
		req.ContentLength = cl.size
		req.Header.Set("Content-Type", cl.contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "aptq-client")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err // *url.Error already names the method and URL
	}
	defer func() {
		// Draining lets the connection be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := decodeError(resp)
		if cl.method != http.MethodHead && !isJSON(resp) &&
			(resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			return &NotAPIError{URL: c.base, Err: err}
		}
		return err
	}
	if cl.raw != nil {
		if resp.ContentLength > cl.maxBody {
			return fmt.Errorf("%s %s: answer larger than %d bytes", cl.method, cl.path, cl.maxBody)
		}
		var buf bytes.Buffer
		if resp.ContentLength > 0 {
			// One allocation for large files: MinRead more, or ReadFrom
			// doubles the buffer for its last read.
			buf.Grow(int(resp.ContentLength) + bytes.MinRead)
		}
		if _, err := buf.ReadFrom(io.LimitReader(resp.Body, cl.maxBody+1)); err != nil {
			return fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
		}
		if int64(buf.Len()) > cl.maxBody {
			return fmt.Errorf("%s %s: answer larger than %d bytes", cl.method, cl.path, cl.maxBody)
		}
		*cl.raw = buf.Bytes()
		return nil
	}
	if out == nil || cl.method == http.MethodHead {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if !isJSON(resp) {
			return &NotAPIError{URL: c.base, Err: err}
		}
		return fmt.Errorf("%s %s: decode answer: %w", cl.method, cl.path, err)
	}
	return nil
}

// fallbackCodes names errors whose body carries no code: HEAD answers,
// and proxies in front of the server that answer in HTML.
var fallbackCodes = map[int]string{
	http.StatusBadRequest:            wire.CodeBadRequest,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             CodeForbidden,
	http.StatusNotFound:              CodeNotFound,
	http.StatusConflict:              CodeConflict,
	http.StatusRequestEntityTooLarge: wire.CodeTooLarge,
	http.StatusUnprocessableEntity:   wire.CodeInvalid,
}

func decodeError(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body wire.ErrorBody
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message, e.Details = body.Code, body.Message, body.Details
	}
	if e.Code == "" {
		e.Code = fallbackCodes[resp.StatusCode]
		if e.Code == "" && resp.StatusCode >= 500 {
			e.Code = CodeInternal
		}
		if e.Code == "" {
			e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
		}
	}
	if e.Message == "" && resp.StatusCode == http.StatusForbidden {
		e.Message = "this token's scope does not allow this request (aptq token list shows scopes)"
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" || len(e.Message) > 200 {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}
