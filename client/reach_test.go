package client

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenWhitespaceTrimmed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		writeJSON(w, http.StatusOK, `{"repos":[]}`)
	}))
	t.Cleanup(srv.Close)
	_, err := New(srv.URL, "tok\r\n").ListRepos(t.Context())
	require.NoError(t, err)
}

func TestMalformedTokenSendsNothing(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	for _, token := range []string{"tok en", "tok\x00", "tok\rtok", "tök"} {
		_, err := New(srv.URL, token).ListRepos(t.Context())
		require.ErrorIs(t, err, ErrMalformedToken, "%q", token)
	}
	require.Zero(t, calls.Load(), "a malformed token never reaches the server")
}

func TestUnreachableServerFailsAfterWindow(t *testing.T) {
	t.Parallel()
	c := New("http://127.0.0.1:1", "tok", WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithUnreachableAfter(300*time.Millisecond))
	start := time.Now()
	_, err := c.ListRepos(t.Context()) // no deadline: only the window ends it
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "it retried for the window")
	require.Contains(t, err.Error(), "cannot reach the aptq server at http://127.0.0.1:1")
	require.Contains(t, err.Error(), "connection refused")
}

func TestServerRestartWithinWindowIsSurvived(t *testing.T) {
	t.Parallel()
	// A listener that refuses the first connections (closed), then serves.
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusOK, `{"repos":[]}`)
	}))
	addr := srv.Listener.Addr().String()
	require.NoError(t, srv.Listener.Close()) // refused until started below
	started := make(chan struct{})
	c := New("http://"+addr, "tok", WithBackoff(10*time.Millisecond, 20*time.Millisecond),
		WithUnreachableAfter(time.Minute), WithRetryHook(func(r Retry) {
			if r.Attempt == 3 {
				close(started)
			}
		}))
	go func() {
		<-started
		ln, err := net.Listen("tcp", addr)
		if assert.NoError(t, err) {
			srv.Listener = ln
			srv.Start()
		}
	}()
	t.Cleanup(srv.Close)
	_, err := c.ListRepos(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1, calls.Load())
}

func TestNotAnAptqServer(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{
		"404 page": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"200 html": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>welcome</html>")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			_, err := New(srv.URL, "tok").ListRepos(t.Context())
			var na *NotAPIError
			require.ErrorAs(t, err, &na)
			require.Contains(t, err.Error(), srv.URL+" does not answer as an aptq API")
		})
	}
	// An aptq 404 stays a plain API error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"code":"not_found","message":"repository acme not found"}`)
	}))
	t.Cleanup(srv.Close)
	_, err := New(srv.URL, "tok").GetRepo(t.Context(), "acme")
	var na *NotAPIError
	require.False(t, errors.As(err, &na))
	require.Equal(t, CodeNotFound, ErrorCode(err))
}
