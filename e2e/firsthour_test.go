package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/systest"
)

// With APTQ_METRICS_LISTEN, /metrics is served there and not on the API's
// port, which may face the internet.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	metricsAddr := systest.FreeAddr(t)
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_METRICS_LISTEN=" + metricsAddr}})
	ctx := context.Background()

	_, status, err := get(ctx, b.URL+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status, "the API port must not serve /metrics")

	body, status, err := get(ctx, "http://"+metricsAddr+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	// The API's own requests are counted there: one registry, two doors.
	require.Contains(t, string(body), `aptq_http_requests_total{method="GET",route="/readyz",status="200"}`)

	_, status, err = get(ctx, "http://"+metricsAddr+"/v1/whoami")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status, "the metrics listener serves /metrics only")
}
