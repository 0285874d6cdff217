package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
)

// TestCancelReason: a client that withdraws its change because of a failure
// names it, and the job shows it; a malformed reason is refused and leaves
// the job as it was.
func TestCancelReason(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos", map[string]string{"name": "r"}, nil))
	require.Equal(t, http.StatusCreated, b.do(http.MethodPost, "/v1/repos/r/releases",
		map[string]any{"name": "stable", "architectures": []string{"amd64"}}, nil))
	submit := func(name string) int64 {
		deb := debtest.Build(t, debtest.Options{Package: name, Version: "1.0", Architecture: "amd64"})
		require.Equal(t, http.StatusCreated, b.do(http.MethodPut, "/v1/packages/"+sha256Hex(deb), deb, nil))
		var ref map[string]int64
		require.Equal(t, http.StatusAccepted, b.do(http.MethodPost, "/v1/repos/r/releases/stable/changes",
			map[string]any{"adds": []map[string]string{{"sha256": sha256Hex(deb), "component": "main"}}}, &ref))
		return ref["job_id"]
	}
	job := submit("aa")

	for name, q := range map[string]url.Values{
		"message without code": {"reason": {"x"}},
		"code with spaces":     {"reason_code": {"unknown key"}},
		"code too long":        {"reason_code": {strings.Repeat("a", 41)}},
		"control character":    {"reason_code": {"unknown_key"}, "reason": {"a\nb"}},
		"message too long":     {"reason_code": {"unknown_key"}, "reason": {strings.Repeat("m", 1001)}},
		"invalid UTF-8":        {"reason_code": {"unknown_key"}, "reason": {"\xff"}},
	} {
		b.expectError(http.MethodDelete, fmt.Sprintf("/v1/jobs/%d?%s", job, q.Encode()), nil, 400, "bad_request")
		var state string
		require.NoError(t, b.store.Pool.QueryRow(context.Background(),
			`SELECT state FROM changes WHERE job_id = $1`, job).Scan(&state))
		require.Equal(t, "pending", state, name)
	}

	q := url.Values{"reason_code": {"unknown_key"}, "reason": {"signed only by key 0123; register it with aptq key add"}}
	var out JobResponse
	require.Equal(t, http.StatusOK, b.do(http.MethodDelete, fmt.Sprintf("/v1/jobs/%d?%s", job, q.Encode()), nil, &out))
	require.Equal(t, "cancelled", out.State)
	require.Equal(t, "unknown_key", out.Error.Code)
	require.Equal(t, "cancelled by the client: signed only by key 0123; register it with aptq key add", out.Error.Message)

	plain := submit("bb")
	require.Equal(t, http.StatusOK, b.do(http.MethodDelete, fmt.Sprintf("/v1/jobs/%d", plain), nil, &out))
	require.Equal(t, "cancelled", out.Error.Code)
	require.Equal(t, "cancelled by the client", out.Error.Message)
}
