package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// errDatabaseUnreachable marks an error that came from PostgreSQL being out
// of reach; errors.go answers it with 503 and Retry-After.
var errDatabaseUnreachable = errors.New("handlers: the database is unreachable")

// databaseRetryAfter is what a page answered while the database is out of
// reach asks browsers to wait, in seconds.
const databaseRetryAfter = "5"

// markDatabaseUnreachable returns err marked with errDatabaseUnreachable
// when it is PostgreSQL being out of reach, otherwise err unchanged.
func markDatabaseUnreachable(err error) error {
	if errors.Is(err, errDatabaseUnreachable) || !databaseUnreachable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errDatabaseUnreachable, err)
}

// databaseUnreachable reports whether err is a failure to reach PostgreSQL
// (no connection could be made or kept, or none came in time) rather than
// an error of the statement, which the server answered (a *pgconn.PgError
// other than its going away), or of the portal's own code. A request the
// person abandoned (context.Canceled) is neither: nobody waits for a retry.
func databaseUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.As(err, new(*pgconn.ConnectError)), errors.Is(err, pgconn.ErrConnClosed):
		// Connecting failed, even when the server answered (database
		// gone, password refused): the portal cannot reach its data.
		return true
	case errors.As(err, &pgErr):
		// The server answered. Classes 08 (connection exception) and
		// 57P (shutting down, crashed, not accepting connections yet) are
		// it going away; anything else is the statement's fault.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded):
		// pgconn's own timeouts, and a deadline that ran out while
		// waiting for a connection from the pool.
		return true
	}
	// A socket that broke under a statement: pgconn wraps the network
	// error in its own errors, all of which say whether a retry is safe.
	// A network error without that wrapping is someone else's (Cloud
	// Manager's HTTP client).
	var viaPgconn interface{ SafeToRetry() bool }
	var netErr net.Error
	return errors.As(err, &viaPgconn) &&
		(errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}
