package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/blob"
)

// TestServeAPTPassesThrough: /apt/ answers with the object's Cache-Control,
// ETag and Last-Modified, a 304 to a matching If-None-Match or
// If-Modified-Since (by-hash only: InRelease is rewritten in place) and a 206 with the right bytes to a Range, each with
// one request to S3 and no Head.
func TestServeAPTPassesThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	counter := &countingBlob{Blob: b.api.blob}
	b.api.blob = counter
	repo := b.repoWithRelease()
	content := []byte("Origin: test\nLabel: pass-through\n")
	_, err := counter.Put(t.Context(), repo.Prefix+"dists/stable/InRelease", bytes.NewReader(content), int64(len(content)),
		blob.PutOptions{CacheControl: "public, max-age=60"})
	require.NoError(t, err)
	url := b.server.URL + "/apt/" + b.tenant.Name + "/r/dists/stable/InRelease"
	get := func(header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		before := counter.calls.Load()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, int64(1), counter.calls.Load()-before, "one request to S3 for %v", header)
		return resp, body
	}

	resp, body := get()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)
	require.Equal(t, "public, max-age=60", resp.Header.Get("Cache-Control"))
	etag, modified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, modified)

	resp, body = get("If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, body)
	resp, _ = get("If-None-Match", `"0123456789abcdef0123456789abcdef"`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "another ETag")
	// InRelease is rewritten in place, within a second at times: a date
	// with whole seconds cannot tell its versions apart, so it gets the file.
	resp, body = get("If-Modified-Since", modified)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)
	byHash := "dists/stable/main/binary-amd64/by-hash/SHA256/" + hex.EncodeToString(sha256Sum(content))
	_, err = counter.Put(t.Context(), repo.Prefix+byHash, bytes.NewReader(content), int64(len(content)), blob.PutOptions{})
	require.NoError(t, err)
	url = b.server.URL + "/apt/" + b.tenant.Name + "/r/" + byHash
	resp, _ = get()
	resp, body = get("If-Modified-Since", resp.Header.Get("Last-Modified"))
	require.Equal(t, http.StatusNotModified, resp.StatusCode, "a by-hash object never changes")
	require.Empty(t, body)
	url = b.server.URL + "/apt/" + b.tenant.Name + "/r/dists/stable/InRelease"

	resp, body = get("Range", "bytes=7-10")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, content[7:11], body)
	require.Equal(t, "bytes 7-10/33", resp.Header.Get("Content-Range"))
	require.Equal(t, "4", resp.Header.Get("Content-Length"))
	resp, body = get("Range", "bytes=-5")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, content[len(content)-5:], body)
	resp, _ = get("Range", "bytes=100-")
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Zero(t, counter.heads.Load(), "no Head")

	status, _ := b.aptGet("r/dists/stable/Release")
	require.Equal(t, http.StatusNotFound, status, "the server is still up")
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}
