// Package pgretry is the job's one retry policy for PostgreSQL work: the
// store, the command start-up and the test harness all retry through it. It
// retries what a retry can fix (a lost or refused connection, a session the
// server ended, a server starting or shutting down, a serialization failure
// or deadlock) and nothing else: a missing row, a scan or encode error and a
// constraint violation fail at once.
package pgretry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sethvargo/go-retry"
)

// Policy says how often and how patiently to try.
type Policy struct {
	Tries   int           // attempts in all; at least 1
	Wait    time.Duration // before the second attempt; doubles after each
	MaxWait time.Duration // cap on one wait; 0: no cap
	// Within, if set, stops the attempts once this long has passed since
	// the first failure, whatever Tries says.
	Within time.Duration
	// Attempt, if set, bounds one attempt. An attempt it cuts short is
	// tried again: past the server's own statement_timeout, a statement
	// that has not answered is on a connection that is gone.
	Attempt time.Duration
	// Retryable picks the errors worth another attempt; nil means
	// Transient.
	Retryable func(error) bool
}

// Statement is the policy for one idempotent statement whose connection
// may have died: about 3 s of attempts, enough for the pool to replace a
// dead connection or for a fail-over.
var Statement = Policy{Tries: 4, Wait: 200 * time.Millisecond, MaxWait: 2 * time.Second}

var errAttempt = errors.New("attempt timed out")

// Do runs fn until it succeeds, fails with an error the policy does not
// retry, the tries are spent or ctx ends. It returns fn's last error; when
// ctx ended during a wait, that error joined with ctx's cause.
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	retryable := p.Retryable
	if retryable == nil {
		retryable = Transient
	}
	var b retry.Backoff = retry.NewExponential(max(p.Wait, time.Millisecond))
	if p.MaxWait > 0 {
		b = retry.WithCappedDuration(p.MaxWait, b)
	}
	b = retry.WithMaxRetries(uint64(max(p.Tries-1, 0)), b)
	var last error
	var failed time.Time // the first failure
	err := retry.Do(ctx, b, func(ctx context.Context) error {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.Attempt > 0 {
			actx, cancel = context.WithTimeoutCause(ctx, p.Attempt, errAttempt)
		}
		last = fn(actx)
		cut := last != nil && errors.Is(context.Cause(actx), errAttempt) && ctx.Err() == nil
		cancel()
		if last == nil {
			return nil
		}
		if failed.IsZero() {
			failed = time.Now()
		}
		if cut {
			last = fmt.Errorf("no answer within %s: %w", p.Attempt, last)
		}
		if (cut || retryable(last)) && (p.Within <= 0 || time.Since(failed) < p.Within) {
			return retry.RetryableError(last)
		}
		return last
	})
	if err != nil && last != nil && err != last {
		// go-retry returns only the context's cause when ctx ends between
		// attempts; keep what went wrong too.
		return fmt.Errorf("%w (%w)", last, err)
	}
	return err
}

// Transient reports whether the same statement may succeed when sent
// again, on a new connection if need be: the connection failed or was
// refused, the server ended the session or has no room for it (53300), or
// the statement lost a serialization failure (40001) or a deadlock (40P01)
// on a connection that is still good. A constraint violation, a bad value
// or a missing row is not transient. A cancelled or timed-out context is
// never retried (the caller gave up), nor is a connection the server
// refused for good (Permanent).
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || Permanent(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return sessionEnded(pe.Code) || pe.Code == "40001" || pe.Code == "40P01"
	}
	if pgconn.SafeToRetry(err) {
		return true // nothing reached the server (a closed connection, say)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) ||
		errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, net.ErrClosed)
}

// Permanent reports whether err says that the server, reached, will not
// take this connection however often it is tried: its TLS certificate is
// not trusted (sslmode=verify-ca or verify-full), it refuses the TLS that
// sslmode requires, or it refuses the role, its password or the database
// (SQLSTATE class 28, 3D000, 42501).
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var (
		unverified *tls.CertificateVerificationError
		authority  x509.UnknownAuthorityError
		host       x509.HostnameError
		invalid    x509.CertificateInvalidError
		pe         *pgconn.PgError
	)
	switch {
	case errors.As(err, &unverified), errors.As(err, &authority), errors.As(err, &host), errors.As(err, &invalid):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000" || pe.Code == "42501"
	}
	// pgconn's error for a server without TLS under sslmode=require has no
	// type of its own.
	return strings.Contains(err.Error(), "server refused TLS connection")
}

// sessionEnded reports whether SQLSTATE code says the server ended or
// refused the session: another connection may well work.
func sessionEnded(code string) bool {
	switch code {
	case "57P01", // admin_shutdown, and pg_terminate_backend
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up or shutting down
		"57P05", // idle_session_timeout
		"25P03", // idle_in_transaction_session_timeout
		"53300": // too_many_connections
		return true
	}
	return len(code) == 5 && code[:2] == "08" // connection exception
}
