package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/store"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("list repos: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection failure", pg(pgerrcode.ConnectionFailure), true},
		{"admin shutdown", pg(pgerrcode.AdminShutdown), true},
		{"cannot connect now", pg(pgerrcode.CannotConnectNow), true},
		{"query cancelled", pg(pgerrcode.QueryCanceled), false},
		{"unique violation", pg(pgerrcode.UniqueViolation), false},
		{"connection reset", &net.OpError{Op: "read", Err: errors.New("reset")}, true},
		{"cut reply", fmt.Errorf("scan: %w", io.ErrUnexpectedEOF), true},
		{"not found", store.ErrNotFound, false},
		{"plain", errors.New("boom"), false},
	} {
		require.Equal(t, tc.want, store.Unavailable(tc.err), tc.name)
	}
}

// A server that does not answer is Unavailable as the driver reports it.
func TestUnavailableRefusedConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	_, err = pgx.Connect(context.Background(), "postgres://x@"+addr+"/x?connect_timeout=5")
	require.Error(t, err)
	require.True(t, store.Unavailable(err), "%v", err)
}
