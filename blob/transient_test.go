package blob_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
)

// A write that versitygw refuses with ExistingObjectIsDirectory (its race
// between a write under a prefix and the removal of that prefix's empty
// directory) is repeated, not failed; a conditional write still goes once.
func TestTransientCodeRetried(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	puts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		puts[r.URL.Path]++
		n := puts[r.URL.Path]
		mu.Unlock()
		if r.Method != http.MethodPut {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		if n == 1 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExistingObjectIsDirectory</Code>`+
				`<Message>Existing Object is a directory.</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	}))
	t.Cleanup(srv.Close)
	s3, err := blob.NewS3(t.Context(), blob.Config{Endpoint: srv.URL, Region: "us-east-1", Bucket: "b",
		AccessKey: "a", SecretKey: "s"})
	require.NoError(t, err)

	_, err = s3.Put(t.Context(), "_uploads/1/x", strings.NewReader("data"), 4, blob.PutOptions{})
	require.NoError(t, err)
	_, err = s3.Put(t.Context(), "pool/y", strings.NewReader("data"), 4, blob.PutOptions{IfNoneMatch: true})
	require.Error(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]int{"/b/_uploads/1/x": 2, "/b/pool/y": 1}, puts)
}
