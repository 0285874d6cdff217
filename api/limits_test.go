package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
)

// randomUpper returns n random uppercase letters: a valid HTTP method token.
func randomUpper(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return string(b)
}

// scrape returns the /metrics page.
func (b *bundle) scrape() string {
	b.t.Helper()
	resp, err := http.Get(b.server.URL + "/metrics")
	require.NoError(b.t, err)
	defer resp.Body.Close()
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return string(body)
}

// TestMetricsLabelsBounded replays the /metrics memory attack: without a
// token, requests with huge random methods and random paths. Each became a
// label value, kept for the life of the process; now they fold into fixed
// labels and the page stays small.
func TestMetricsLabelsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	before := len(b.scrape())
	var methods []string
	for range 20 {
		method := randomUpper(64 << 10)
		methods = append(methods, method)
		path := "/" + randomUpper(8<<10) + "/v1/" + randomUpper(100)
		req, err := http.NewRequest(method, b.server.URL+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}
	for _, path := range []string{"/v1/repos/x/nope/" + randomUpper(4096), "/apt", "/v1/" + randomUpper(4096)} {
		resp, err := http.Post(b.server.URL+path, "application/json", nil)
		require.NoError(t, err)
		resp.Body.Close()
	}
	page := b.scrape()
	require.Less(t, len(page), before+16<<10, "20 hostile requests add a few series, not megabytes")
	for _, m := range methods {
		require.NotContains(t, page, m[:64])
	}
	require.Contains(t, page, `aptq_http_requests_total{method="other",route="unmatched",status="404"} 20`)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos", nil, nil), "the server is still up")
	require.Contains(t, b.scrape(), `aptq_http_requests_total{method="GET",route="/v1/repos",status="200"} 1`)
}

// TestRequestID: a client's X-Request-ID is echoed (and logged) only when
// it is short and plain; anything else is replaced by a generated id.
func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	for id, echoed := range map[string]bool{
		"ci-build.42_A":           true,
		strings.Repeat("a", 64):   true,
		strings.Repeat("a", 65):   false,
		strings.Repeat("x", 8000): false,
		"a b":                     false,
		"<script>alert(1)":        false,
		"id\tx":                   false,
		"é":                       false,
	} {
		req, err := http.NewRequest(http.MethodGet, b.server.URL+"/healthz", nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-ID", id)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		got := resp.Header.Get("X-Request-ID")
		if echoed {
			require.Equal(t, id, got)
			continue
		}
		require.NotEqual(t, id, got)
		require.True(t, safeRequestID(got), "generated id %q", got)
	}
}

// TestBindLimits: a JSON body is one value of at most 1 MiB; a second value
// or trailing garbage is a 400, a longer body a 413, and neither changes
// anything.
func TestBindLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	for body, code := range map[string]string{
		`{"name":"a"}{"name":"b"}`:  "trailing_data",
		`{"name":"a"} {"name":"b"}`: "trailing_data",
		`{"name":"a"}]`:             "trailing_data",
		`{"name":"a"} garbage`:      "trailing_data",
		`{"name":"a"}` + strings.Repeat(" ", maxJSONBody) + `{}`: "too_large",
		`{"name":"` + strings.Repeat("a", maxJSONBody) + `"}`:    "too_large",
		`{"name":"a", "typo": 1}`:                                "bad_request",
		`{"name":"a"`:                                            "bad_request",
		`["a"]`:                                                  "bad_request",
		`{"name":"a"}` + strings.Repeat(" ", maxJSONBody-len(`{"name":"a"}`)+1): "too_large",
	} {
		status := http.StatusBadRequest
		if code == "too_large" {
			status = http.StatusRequestEntityTooLarge
		}
		b.expectError(http.MethodPost, "/v1/repos", []byte(body), status, code)
	}
	require.Zero(t, b.count("repositories"))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", []byte("\n {\"name\":\"a\"} \n\t"), nil),
		"whitespace around the value is fine")
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos",
		[]byte(`{"name":"b"}`+strings.Repeat(" ", maxJSONBody-len(`{"name":"b"}`))), nil), "exactly 1 MiB is fine")
	require.Equal(t, 2, b.count("repositories"))
}

// TestReleaseLimits replays a release of 20 000 components × 2 000
// architectures, and fields that would break the Release file's format.
func TestReleaseLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	tests := []struct {
		req   map[string]any
		field string
	}{
		{map[string]any{"name": "huge", "components": names("c", 20000), "architectures": names("a", 2000)}, "components"},
		{map[string]any{"name": "c65", "components": names("c", 65)}, "components"},
		{map[string]any{"name": "a65", "architectures": names("a", 65)}, "architectures"},
		{map[string]any{"name": strings.Repeat("n", 5000)}, "name"},
		{map[string]any{"name": "bad/name"}, "name"},
		{map[string]any{"name": "x", "components": []string{strings.Repeat("c", 5000)}}, "components"},
		{map[string]any{"name": "x", "description": strings.Repeat("d", 201)}, "description"},
		{map[string]any{"name": "x", "origin": "evil\x1b[2J"}, "origin"},
		{map[string]any{"name": "x", "label": "tab\there"}, "label"},
		{map[string]any{"name": "x", "suite": "a\u0085b"}, "suite"},
		{map[string]any{"name": "x", "codename": "a\rb"}, "codename"},
		{map[string]any{"name": "x", "version": "1\nValid-Until: never"}, "version"},
		{map[string]any{"name": "x", "compressions": []string{"bz2"}}, "compressions"},
		{map[string]any{"name": "x", "compressions": []string{}}, "compressions"}, // nothing S3 would hold
	}
	for _, tt := range tests {
		e := b.expectError(http.MethodPost, "/v1/repos/r/releases", tt.req, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, tt.field, e.Details["field"], "%v", e)
		require.Less(t, len(e.Message), 300, "the message does not echo the hostile value")
	}
	require.Zero(t, b.count("releases"))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "max", "components": names("c", 64), "architectures": names("a", 64),
			"description": strings.Repeat("d", 200), "origin": "Ünïcode Origin"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "plain", "compressions": []string{"none", "gz", "xz"}}, nil))
	require.Equal(t, 2, b.count("releases"))
}

// TestRemoveValidation: a remove's name, version and architecture are
// checked as an upload's control fields are, before anything is recorded.
func TestRemoveValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	good := map[string]string{"name": "hello", "version": "1:1.0-1", "architecture": "amd64", "component": "main"}
	with := func(k, v string) map[string]string {
		r := map[string]string{}
		for kk, vv := range good {
			r[kk] = vv
		}
		r[k] = v
		return r
	}
	for _, tt := range []struct {
		remove map[string]string
		field  string
	}{
		{with("name", ""), "removes[1].name"},
		{with("name", "../../etc"), "removes[1].name"},
		{with("name", "Hello"), "removes[1].name"},
		{with("name", strings.Repeat("a", 5000)), "removes[1].name"},
		{with("version", ""), "removes[1].version"},
		{with("version", "1.0 evil"), "removes[1].version"},
		{with("version", "1.0\nFilename: x"), "removes[1].version"},
		{with("version", "1"+strings.Repeat("a", 5000)), "removes[1].version"},
		{with("version", "abc"), "removes[1].version"},
		{with("architecture", "AMD64"), "removes[1].architecture"},
		{with("architecture", "i386"), "removes[1].architecture"},
	} {
		e := b.expectError(http.MethodPost, "/v1/repos/r/releases/stable/changes",
			map[string]any{"removes": []map[string]string{good, tt.remove}}, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, tt.field, e.Details["field"], "%v: %v", tt.remove, e)
		require.Less(t, len(e.Message), 300)
	}
	require.Zero(t, b.count("changes"))
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes",
		map[string]any{"removes": []map[string]string{good, with("architecture", "all")}}, nil))
	require.Equal(t, 1, b.count("changes"))
}

// TestAttemptErrorsHidden: River's record of a failed attempt holds
// internal text (addresses, SQL, S3 messages); a tenant sees a code and a
// fixed message, an operator the text.
func TestAttemptErrorsHidden(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases", map[string]any{"name": "stable"}, nil))
	var sub struct {
		JobID int64 `json:"job_id"`
	}
	require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes", map[string]any{
		"removes": []map[string]string{{"name": "hello", "version": "1.0", "architecture": "amd64", "component": "main"}}}, &sub))
	internal := "dial tcp 10.1.2.3:5432: password authentication failed for user \"aptq_prod\""
	_, err := b.store.Pool.Exec(context.Background(), `UPDATE river_job SET errors = ARRAY[$2::jsonb] WHERE id = $1`,
		sub.JobID, fmt.Sprintf(`{"at": "2026-11-01T10:00:00Z", "attempt": 1, "error": %q}`, internal))
	require.NoError(t, err)

	get := func(token string) (string, JobResponse) {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/jobs/%d", b.server.URL, sub.JobID), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out JobResponse
		require.NoError(t, json.NewDecoder(bytes.NewReader(raw)).Decode(&out))
		return string(raw), out
	}
	raw, job := get(b.token)
	require.NotContains(t, raw, "10.1.2.3")
	require.NotContains(t, raw, "aptq_prod")
	require.Len(t, job.AttemptErrors, 1)
	require.Equal(t, AttemptErrorResponse{Attempt: 1, At: job.AttemptErrors[0].At, Code: "internal", Error: tenantAttemptError},
		job.AttemptErrors[0])

	_, opToken := b.operator()
	_, job = get(opToken)
	require.Len(t, job.AttemptErrors, 1)
	require.Equal(t, internal, job.AttemptErrors[0].Error, "operators see the text")

	require.Equal(t, "repaired 2 objects", tenantOutcome("repaired 2 objects"))
	require.NotContains(t, tenantOutcome("failed: put s3://bucket/key: 403 SignatureDoesNotMatch"), "s3://")
}

// TestKeyReAdd: adding a registered key again replaces its stored copy, so
// a revocation takes effect; a revoked key that is not registered, or an
// expired one, is refused as invalid_key and changes nothing.
func TestKeyReAdd(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	priv, pub, err := sign.GenerateKey("k", "k@example.com")
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": string(pub)}, nil))
	var k KeyResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": string(pub)}, &k),
		"the same key again is a no-op replacement")
	require.False(t, k.Revoked)

	revoked := revokedKey(t, priv)
	otherPriv, _, err := sign.GenerateKey("o", "o@example.com")
	require.NoError(t, err)
	b.expectError(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": string(revokedKey(t, otherPriv))},
		http.StatusUnprocessableEntity, "invalid_key")

	past := time.Now().Add(-48 * time.Hour)
	expired, err := openpgp.NewEntity("e", "", "e@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA,
		Time: func() time.Time { return past }, KeyLifetimeSecs: 3600})
	require.NoError(t, err)
	var expiredPub bytes.Buffer
	w, err := armor.Encode(&expiredPub, openpgp.PublicKeyType, nil)
	require.NoError(t, err)
	require.NoError(t, expired.Serialize(w))
	require.NoError(t, w.Close())
	b.expectError(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": expiredPub.String()},
		http.StatusUnprocessableEntity, "invalid_key")
	require.Equal(t, 1, b.count("signing_keys"))

	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": string(revoked)}, &k))
	require.True(t, k.Revoked)
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/v1/repos/r/keys", map[string]string{"armored": string(pub)}, &k))
	require.True(t, k.Revoked, "the old export does not undo the revocation")
	var list struct {
		Keys []KeyResponse `json:"keys"`
	}
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/v1/repos/r/keys", nil, &list))
	require.Len(t, list.Keys, 1)
	require.True(t, list.Keys[0].Revoked)
	require.Equal(t, 1, b.count("signing_keys"))
}

// revokedKey returns the public half of an armored private key, revoked.
func revokedKey(t *testing.T, priv []byte) []byte {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(priv))
	require.NoError(t, err)
	require.NoError(t, el[0].RevokeKey(packet.KeyRetired, "rotated", nil))
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	require.NoError(t, err)
	require.NoError(t, el[0].Serialize(w))
	require.NoError(t, w.Close())
	return buf.Bytes()
}
