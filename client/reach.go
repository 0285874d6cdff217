package client

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrMalformedToken is returned, before anything is sent, for a token that
// cannot be one: empty after trimming, or holding spaces or control
// characters (a pasted line with a stray character, two tokens in one).
var ErrMalformedToken = errors.New("malformed API token")

func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: it holds a space or control character at byte %d; "+
				"check APTQ_TOKEN, --token or the profile", ErrMalformedToken, i)
		}
	}
	return nil
}

// UnreachableError says that no connection to the server could be made for
// a while: nothing listens at the address, or the name does not resolve.
type UnreachableError struct {
	URL string
	For time.Duration
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the aptq server at %s (tried for %s): %v", e.URL, e.For, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// NotAPIError says that the server answered, but not as an aptq API does:
// a plain web server, or a proxy without aptq behind it, at the URL.
type NotAPIError struct {
	URL string
	Err error
}

func (e *NotAPIError) Error() string {
	return fmt.Sprintf("%s does not answer as an aptq API (check the server URL; it is the address of aptqd, "+
		"e.g. https://aptq.example.com): %v", e.URL, e.Err)
}

func (e *NotAPIError) Unwrap() error { return e.Err }

// unreachable reports whether err means no connection could be made at all,
// as opposed to a connection that broke or a server that answered.
func unreachable(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// isJSON reports whether a response is JSON, as every answer of aptq's API
// is, errors included.
func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
