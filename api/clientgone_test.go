package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/metrics"
)

// A request whose client went away (a long poll the CLI gave up once it had
// signed) fails with the context's error: that is answered, logged and
// counted as 499, not as a 500 an operator would be paged for.
func TestClientGoneIsNotServerError(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20)
	e := echo.New()
	for _, tc := range []struct {
		name   string
		cancel bool
		want   int
	}{{"client gone", true, metrics.StatusClientClosed}, {"client waiting", false, http.StatusInternalServerError}} {
		ctx, cancel := context.WithCancel(t.Context())
		if tc.cancel {
			cancel()
		}
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/v1/jobs/1", nil).WithContext(ctx), rec)
		b.api.errorHandler(errors.Join(errors.New("query job"), context.Canceled), c)
		cancel()
		require.Equal(t, tc.want, rec.Code, tc.name)
	}
}
