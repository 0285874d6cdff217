package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTPConfig tunes an HTTP source; zero fields take the defaults.
type HTTPConfig struct {
	// Timeout bounds connecting and waiting for response headers (30 s).
	Timeout time.Duration
	// Stall fails a body that delivers nothing for this long (60 s).
	Stall time.Duration
	// MaxRedirects bounds the redirects followed per request (5); every
	// one must stay on the source's scheme and host.
	MaxRedirects int
}

// HTTP reads a repository served over HTTP(S) under a base URL.
type HTTP struct {
	base   *url.URL
	client *http.Client
	stall  time.Duration
}

var _ Fetcher = (*HTTP)(nil)

// NewHTTP returns a Fetcher for the repository whose root is base, an
// http or https URL without query or fragment.
func NewHTTP(base string, cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("source URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("source URL %q: want http(s)://host/path, without credentials, query or fragment", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Stall <= 0 {
		cfg.Stall = time.Minute
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: cfg.Timeout}).DialContext
	tr.TLSHandshakeTimeout = cfg.Timeout
	tr.ResponseHeaderTimeout = cfg.Timeout
	tr.MaxIdleConnsPerHost = 16
	h := &HTTP{base: u, stall: cfg.Stall}
	h.client = &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > cfg.MaxRedirects {
			return fmt.Errorf("more than %d redirects", cfg.MaxRedirects)
		}
		if req.URL.Scheme != u.Scheme || req.URL.Host != u.Host {
			return fmt.Errorf("redirect to %s://%s refused: the source is %s://%s", req.URL.Scheme, req.URL.Host, u.Scheme, u.Host)
		}
		return nil
	}}
	return h, nil
}

// URL returns the address of rel, which must stay under the base URL.
func (h *HTTP) URL(rel string) (*url.URL, error) {
	if err := CheckPath(rel); err != nil {
		return nil, err
	}
	u := h.base.ResolveReference(&url.URL{Path: rel})
	if u.Scheme != h.base.Scheme || u.Host != h.base.Host || !strings.HasPrefix(u.Path, h.base.Path) {
		return nil, fmt.Errorf("path %q leaves the source %s", truncate(rel), h.base)
	}
	return u, nil
}

// Open GETs rel. 404 and 410 are ErrNotFound.
func (h *HTTP) Open(ctx context.Context, rel string) (io.ReadCloser, error) {
	u, err := h.URL(rel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return newStallReader(ctx, resp.Body, h.stall, cancel), nil
	case http.StatusNotFound, http.StatusGone:
		err = fmt.Errorf("GET %s: %w", u, ErrNotFound)
	default:
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	resp.Body.Close()
	cancel(nil)
	return nil, err
}

var errStalled = errors.New("the source sent nothing for too long")

// stallReader cancels its request when no byte arrives for the stall time,
// so a source that stops sending mid-file fails instead of hanging.
type stallReader struct {
	ctx    context.Context
	body   io.ReadCloser
	timer  *time.Timer
	stall  time.Duration
	cancel context.CancelCauseFunc
}

func newStallReader(ctx context.Context, body io.ReadCloser, stall time.Duration, cancel context.CancelCauseFunc) *stallReader {
	return &stallReader{ctx: ctx, body: body, stall: stall, cancel: cancel,
		timer: time.AfterFunc(stall, func() { cancel(errStalled) })}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 {
		s.timer.Reset(s.stall)
	}
	if err != nil && context.Cause(s.ctx) == errStalled {
		err = errStalled
	}
	return n, err
}

func (s *stallReader) Close() error {
	s.timer.Stop()
	s.cancel(nil)
	return s.body.Close()
}
