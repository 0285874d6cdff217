package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setup starts a fake API with handler and returns a client for it whose
// retries are quick. Handlers check with assert, not require: they run on the
// server's goroutines, where FailNow would only drop the connection.
func setup(t *testing.T, handler http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	opts = append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	return New(srv.URL+"/", "tok", opts...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func TestAPIErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   APIError
	}{
		{
			name:   "json",
			status: http.StatusConflict,
			body:   `{"code":"package_conflict","message":"hello 1.0 amd64 exists","details":{"existing_sha256":"ab"}}`,
			want: APIError{Status: 409, Code: "package_conflict", Message: "hello 1.0 amd64 exists",
				Details: map[string]any{"existing_sha256": "ab"}},
		},
		{
			name:   "not json",
			status: http.StatusNotFound,
			body:   "no such thing",
			want:   APIError{Status: 404, Code: CodeNotFound, Message: "no such thing"},
		},
		{
			name:   "empty",
			status: http.StatusTeapot,
			want:   APIError{Status: 418, Code: "http_418", Message: "I'm a teapot"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			_, err := c.GetRepo(t.Context(), "acme")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.want, *apiErr)
			require.Equal(t, tt.want.Code, ErrorCode(err))
		})
	}
}

func TestRetriesUnavailableThenSucceeds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var retries []Retry
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		body, _ := io.ReadAll(r.Body)
		assert.JSONEq(t, `{"name":"acme"}`, string(body))
		if calls.Add(1) <= 2 {
			writeJSON(w, http.StatusServiceUnavailable, `{"code":"internal","message":"busy"}`)
			return
		}
		writeJSON(w, http.StatusCreated, `{"name":"acme","url":"http://x/apt/t/acme"}`)
	}, WithRetryHook(func(r Retry) { retries = append(retries, r) }))

	repo, err := c.CreateRepo(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, "http://x/apt/t/acme", repo.URL)
	require.EqualValues(t, 3, calls.Load())
	require.Len(t, retries, 2)
	require.Equal(t, 2, retries[1].Attempt)
	require.Equal(t, "/v1/repos", retries[1].Path)
}

func TestNoRetryOnClientError(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusUnprocessableEntity, `{"code":"invalid","message":"bad component","details":{"field":"component"}}`)
	})
	_, err := c.SubmitChange(t.Context(), "acme", "stable", ChangeRequest{Adds: []Add{{SHA256: "ab", Component: "nope"}}})
	require.Equal(t, "invalid", ErrorCode(err))
	require.EqualValues(t, 1, calls.Load())
}

func TestInternalErrorRetriedAFewTimes(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusInternalServerError, `{"code":"internal","message":"internal error"}`)
	})
	_, err := c.ListRepos(t.Context())
	require.Equal(t, CodeInternal, ErrorCode(err))
	require.EqualValues(t, maxInternalAttempts, calls.Load())
}

// TestContextEndStopsRetries: the caller's context ends during the third
// attempt; the call returns with no fourth attempt, naming the failure it
// was retrying.
func TestContextEndStopsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 3 {
			cancel()
		}
		writeJSON(w, http.StatusBadGateway, "")
	})

	_, err := c.ListRepos(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "HTTP 502") // the failure being retried is named
	require.EqualValues(t, 3, calls.Load(), "no attempt after the context ended")
}

func TestConnectionRefusedRetried(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	var retries atomic.Int32
	c := New(srv.URL, "tok", WithBackoff(5*time.Millisecond, 10*time.Millisecond),
		WithRetryHook(func(Retry) { retries.Add(1) }))

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GetRelease(ctx, "acme", "stable")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "connection refused")
	require.Greater(t, retries.Load(), int32(1))
}

func TestAttemptTimeoutRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // hang until the client gives up on this attempt
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		writeJSON(w, http.StatusOK, `{"repos":[{"name":"acme"}]}`)
	}, WithRequestTimeout(50*time.Millisecond))

	repos, err := c.ListRepos(t.Context())
	require.NoError(t, err)
	require.Equal(t, "acme", repos[0].Name)
	require.EqualValues(t, 2, calls.Load())
}

func TestGetJobLongPoll(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/v1/jobs/17", r.URL.Path)
		if r.URL.Query().Get("state") == "" {
			assert.Empty(t, r.URL.RawQuery, "no state: answer at once, no wait")
			writeJSON(w, http.StatusOK, `{"job_id":17,"state":"queued"}`)
			return
		}
		assert.Equal(t, "30s", r.URL.Query().Get("wait"))
		assert.Equal(t, "queued", r.URL.Query().Get("state"))
		time.Sleep(200 * time.Millisecond) // longer than the ordinary request timeout
		writeJSON(w, http.StatusOK, `{"job_id":17,"state":"awaiting_signature",
			"round":{"id":9,"generation":42,"state":"awaiting_signature","release":"Origin: x\n"}}`)
	}, WithRequestTimeout(50*time.Millisecond))

	job, err := c.GetJob(t.Context(), 17, 30*time.Second, "")
	require.NoError(t, err)
	require.Equal(t, JobQueued, job.State)

	job, err = c.GetJob(t.Context(), 17, 30*time.Second, job.State)
	require.NoError(t, err)
	require.Equal(t, JobAwaitingSignature, job.State)
	require.True(t, job.Round.AwaitsSignature())
	require.Equal(t, "Origin: x\n", job.Round.Release)
	require.EqualValues(t, 42, job.Round.Generation)
}

func TestHasPackage(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodHead, r.Method)
		switch r.URL.Path {
		case "/v1/packages/aa":
			w.WriteHeader(http.StatusOK)
		case "/v1/packages/bb":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	has, err := c.HasPackage(t.Context(), "aa")
	require.NoError(t, err)
	require.True(t, has)
	has, err = c.HasPackage(t.Context(), "bb")
	require.NoError(t, err)
	require.False(t, has)
	_, err = c.HasPackage(t.Context(), "cc")
	require.Equal(t, CodeUnauthorized, ErrorCode(err))
}

func TestUploadPackageRetriesSeekableBody(t *testing.T) {
	t.Parallel()
	content := strings.Repeat("deb!", 50_000)
	path := filepath.Join(t.TempDir(), "hello.deb")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPut, r.Method)
		assert.Equal(t, "/v1/packages/abc", r.URL.Path)
		assert.EqualValues(t, len(content), r.ContentLength)
		body, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		assert.Equal(t, content, string(body), "every attempt sends the whole file")
		if calls.Add(1) == 1 {
			writeJSON(w, http.StatusServiceUnavailable, "")
			return
		}
		writeJSON(w, http.StatusCreated, `{"sha256":"abc","name":"hello","version":"1.0","architecture":"amd64","size":200000}`)
	})
	pkg, err := c.UploadPackage(t.Context(), "abc", f, int64(len(content)))
	require.NoError(t, err)
	require.Equal(t, "hello", pkg.Name)
	require.EqualValues(t, 2, calls.Load())

	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err, "the caller's file stays open")
}

func TestUploadPackageNotRetriedWhenBodyCannotRewind(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusServiceUnavailable, "")
	})
	body := io.MultiReader(strings.NewReader("not seekable"))
	_, err := c.UploadPackage(t.Context(), "abc", body, -1)
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	require.EqualValues(t, 1, calls.Load())
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := backoff{min: 200 * time.Millisecond, max: 5 * time.Second}
	for attempt, full := range map[int]time.Duration{
		1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 5: 3200 * time.Millisecond,
		6: 5 * time.Second, 30: 5 * time.Second,
	} {
		for range 20 {
			d := b.delay(attempt)
			require.GreaterOrEqual(t, d, full/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, full, "attempt %d", attempt)
		}
	}
}

// TestUploadRetriedAfterTooManyUploads: a 429 is retried after the wait its
// Retry-After header names, not the (here much shorter) backoff.
func TestUploadRetriedAfterTooManyUploads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hello.deb")
	require.NoError(t, os.WriteFile(path, []byte("deb!"), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var calls atomic.Int32
	var retries []Retry
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, `{"code":"too_many_uploads","message":"8 uploads in flight"}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusCreated, `{"sha256":"abc","name":"hello","version":"1.0","architecture":"amd64","size":4}`)
	}, WithRetryHook(func(r Retry) { retries = append(retries, r) }))
	start := time.Now()
	_, err = c.UploadPackage(t.Context(), "abc", f, 4)
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load())
	require.Len(t, retries, 1)
	require.Equal(t, "too_many_uploads", ErrorCode(retries[0].Err))
	require.GreaterOrEqual(t, retries[0].Delay, time.Second)
	require.GreaterOrEqual(t, time.Since(start), time.Second)
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "-3": 0, "soon": 0, "86400": maxRetryAfter,
		time.Now().Add(time.Hour).UTC().Format(http.TimeFormat): maxRetryAfter,
	} {
		require.Equal(t, want, retryAfter(h), "%q", h)
	}
}
