package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxTries bounds how often a statement is sent again after its connection
// failed.
const maxTries = 4

// withRetry runs fn again on a fresh connection (the pool replaces dead
// ones) when it failed for a connection-level reason. Only idempotent work
// goes through it.
func withRetry(ctx context.Context, fn func() error) error {
	var err error
	for try := 1; ; try++ {
		if err = fn(); err == nil || !retryable(err) || try >= maxTries || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try*try) * 200 * time.Millisecond):
		}
	}
}

// retryable reports whether err came from the connection rather than the
// statement: the server went away, the backend was terminated, or the
// network failed. Errors about the statement's data are not retried.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown
			return true
		case pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	// Not a server error: a broken or closed connection, a network error.
	return true
}
