package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// db is what the store runs its statements on: the pool, or a run lock's
// own connection.
type db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	Begin(context.Context) (pgx.Tx, error)
}

// fencedConn is the run lock's connection, shared by the goroutines of a
// run: one statement (or transaction) at a time. Between statements it
// waits on the socket, so that the moment the server ends the session (and
// with it the lock), the run hears of it; a statement that wants the
// connection interrupts that wait.
//
// Its errors for a connection that is gone wrap ErrLockLost: no statement
// of the run can succeed without the lock, and none is retried. A statement
// whose context ends is cancelled by the server (lockConnConfig), which
// leaves the connection, and the lock, as they were.
type fencedConn struct {
	sem    chan struct{} // holds one token while a statement or the watch has the connection
	conn   *pgx.Conn
	wanted atomic.Int32  // statements waiting for sem
	lost   chan struct{} // closed when the connection is gone
	once   sync.Once

	waitMu sync.Mutex // guards inWait and the read deadline while it is set
	inWait bool       // the watch is reading the socket
}

func newFencedConn(conn *pgx.Conn) *fencedConn {
	return &fencedConn{conn: conn, lost: make(chan struct{}), sem: make(chan struct{}, 1)}
}

// lockConnConfig is cfg for a lock's connection: a statement whose context
// ends is cancelled with a cancel request, as psql's ^C does, rather than
// by breaking the connection (pgx's default), which would end the session
// and the lock with it. If the server does not answer the cancel request
// within a few seconds, the connection is broken after all.
func lockConnConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	cfg = cfg.Copy()
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 10 * time.Second}
	}
	return cfg
}

// acquire takes the connection from the watch, or waits for another
// statement to be done with it, as long as ctx allows: a statement stuck on
// a dead network must not hold up the others' time limits.
func (c *fencedConn) acquire(ctx context.Context) error {
	c.wanted.Add(1)
	defer c.wanted.Add(-1)
	c.interruptWait()
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the run lock's connection: %w", context.Cause(ctx))
	}
}

func (c *fencedConn) release() { <-c.sem }

// interruptWait ends the watch's read of the socket, if it is in one, with
// a read deadline in the past: a timeout leaves the connection as it was.
func (c *fencedConn) interruptWait() {
	c.waitMu.Lock()
	defer c.waitMu.Unlock()
	if c.inWait {
		_ = c.conn.PgConn().Conn().SetReadDeadline(time.Unix(1, 0))
	}
}

// checked turns the error of a connection that is gone into ErrLockLost.
func (c *fencedConn) checked(err error) error {
	if err == nil || !c.conn.IsClosed() {
		return err
	}
	c.markLost()
	return fmt.Errorf("%w: %w", ErrLockLost, err)
}

func (c *fencedConn) markLost() { c.once.Do(func() { close(c.lost) }) }

func (c *fencedConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := c.acquire(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.release()
	tag, err := c.conn.Exec(ctx, sql, args...)
	return tag, c.checked(err)
}

func (c *fencedConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	rows, err := c.conn.Query(ctx, sql, args...)
	if err != nil {
		err = c.checked(err)
		c.release()
		return nil, err
	}
	return &fencedRows{Rows: rows, c: c}, nil
}

func (c *fencedConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := c.acquire(ctx); err != nil {
		return errRow{err}
	}
	return fencedRow{row: c.conn.QueryRow(ctx, sql, args...), c: c}
}

// errRow is a row that failed before its statement was sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (c *fencedConn) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		err = c.checked(err)
		c.release()
		return nil, err
	}
	return &fencedTx{Tx: tx, c: c}, nil
}

// fencedRows holds the connection until the rows are closed.
type fencedRows struct {
	pgx.Rows
	c      *fencedConn
	once   sync.Once
	closed bool
}

func (r *fencedRows) Close() {
	r.Rows.Close()
	r.closed = true
	r.once.Do(r.c.release)
}

func (r *fencedRows) Err() error {
	if r.closed {
		return r.Rows.Err() // the connection is no longer this caller's to inspect
	}
	return r.c.checked(r.Rows.Err())
}

// fencedRow holds the connection until it is scanned.
type fencedRow struct {
	row pgx.Row
	c   *fencedConn
}

func (r fencedRow) Scan(dest ...any) error {
	defer r.c.release()
	return r.c.checked(r.row.Scan(dest...))
}

// fencedTx holds the connection until it commits or rolls back. After
// that, the connection is another statement's: a second Commit or Rollback
// (inTx's deferred one) only asks pgx's closed transaction.
type fencedTx struct {
	pgx.Tx
	c    *fencedConn
	done bool
}

func (t *fencedTx) end(err error) error {
	if t.done {
		return err
	}
	t.done = true
	err = t.c.checked(err)
	t.c.release()
	return err
}

func (t *fencedTx) Commit(ctx context.Context) error { return t.end(t.Tx.Commit(ctx)) }

func (t *fencedTx) Rollback(ctx context.Context) error { return t.end(t.Tx.Rollback(ctx)) }

// watch waits on the idle connection until ctx ends (nil) or the server
// ends the session (ErrLockLost). Statements interrupt the wait and take
// the connection; the watch resumes when they are done.
func (c *fencedConn) watch(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.lost:
			return ErrLockLost
		default:
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		if c.wanted.Load() > 0 {
			// A statement is waiting: let it go first.
			c.release()
			time.Sleep(time.Millisecond)
			continue
		}
		// ctx ending interrupts the wait too.
		stop := context.AfterFunc(ctx, c.interruptWait)
		c.waitMu.Lock()
		c.inWait = c.wanted.Load() == 0 && ctx.Err() == nil
		wait := c.inWait
		c.waitMu.Unlock()
		var err error
		if wait {
			err = c.conn.PgConn().WaitForNotification(context.Background())
		}
		c.waitMu.Lock()
		c.inWait = false
		_ = c.conn.PgConn().Conn().SetReadDeadline(time.Time{})
		c.waitMu.Unlock()
		stop()
		var ne net.Error
		interrupted := errors.As(err, &ne) && ne.Timeout()
		closed := c.conn.IsClosed()
		c.release()
		if err != nil && !interrupted || closed {
			c.markLost()
			if err == nil {
				err = errors.New("connection closed")
			}
			return fmt.Errorf("%w: %w", ErrLockLost, err)
		}
	}
}
