package client

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A 500 is usually a bug that answers the same way every time, yet the API
// asks clients to retry it; a few attempts cover a blip without keeping a
// CLI busy until its timeout.
const maxInternalAttempts = 3

// backoff doubles from min to max; each delay is jittered so that many CLIs
// failing together do not come back together.
type backoff struct {
	min, max time.Duration
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if d <= 1 {
		return d
	}
	// "Equal jitter": at least half the delay, so retries still slow down.
	half := d / 2
	return half + rand.N(d-half)
}

// maxRetryAfter caps the wait a server may ask for, so that a wrong header
// cannot park a CLI for hours; the caller's context bounds it anyway.
const maxRetryAfter = 2 * time.Minute

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(h); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// jitterAfter waits at least what the server asked and up to a fifth more,
// so that the CLIs it turned away do not all come back at once.
func jitterAfter(d time.Duration) time.Duration {
	return d + rand.N(d/5+1)
}

// transient reports whether the failure of the given attempt may go away by
// itself. Only failures where the request never reached the server, or the
// server said it could not handle it now, qualify; 4xx never do.
func transient(err error, attempt int) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
			http.StatusTooManyRequests: // the server is at its limit of uploads, for now
			return true
		case http.StatusInternalServerError:
			return attempt < maxInternalAttempts
		}
		return false
	}
	// The caller's context is checked before this; a deadline here is the
	// per-attempt timeout.
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true // refused, unreachable, DNS: nothing was sent
	}
	for _, e := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		io.EOF, io.ErrUnexpectedEOF,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	// net/http does not export this error; it is returned when a kept-alive
	// connection was closed by the server just as a POST was sent on it.
	return strings.Contains(err.Error(), "server closed idle connection")
}
