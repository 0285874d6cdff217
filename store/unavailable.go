package store

import (
	"errors"
	"io"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable says whether err means Postgres could not be reached or went
// away (a restart): callers answer it as CodeUnavailable, which clients
// retry, since the request may well succeed a moment later.
func Unavailable(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 and the server's shutdowns (57P..), not 57014: a
		// cancelled query is the caller's doing, not an outage.
		switch pgErr.Code {
		case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow,
			pgerrcode.DatabaseDropped, pgerrcode.IdleSessionTimeout:
			return true
		}
		return pgerrcode.IsConnectionException(pgErr.Code)
	}
	var netErr *net.OpError
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF)
}
