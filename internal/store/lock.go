package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// lockClass is the first key of every advisory lock the job takes ("wxsy"),
// so that its locks cannot collide with another application's. Two-key
// advisory locks do not share a key space with goose's one-key lock.
const lockClass = 0x77787379

// ErrLocked means another run holds the lock of the scope.
var ErrLocked = errors.New("another run holds the lock")

// ErrLockLost means the connection that held the run lock died and the lock
// could not be taken back: another run may be under way.
var ErrLockLost = errors.New("the run lock was lost with its database connection")

// RunLock is a session advisory lock held on one connection, taken out of
// the pool for the whole run. If the process dies, PostgreSQL drops the
// connection and with it the lock.
//
// A whole-fleet run holds the fleet key exclusively; a shard run holds it
// shared, plus its shard's key exclusively. So shards run side by side, and
// a whole-fleet run excludes them all.
type RunLock struct {
	pool  *pgxpool.Pool
	conn  *pgxpool.Conn
	scope Scope
}

func shardKey(s Scope) int32 { return int32(s.Count*1024 + s.Index + 1) }

// LockRun takes the run lock of scope, waiting up to wait for it (0: do not
// wait). It returns ErrLocked when another run holds it.
func (s *Store) LockRun(ctx context.Context, scope Scope, wait time.Duration) (*RunLock, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := s.tryLock(ctx, scope)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLocked) || !time.Now().Add(250*time.Millisecond).Before(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Store) tryLock(ctx context.Context, scope Scope) (*RunLock, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the run lock: %w", err)
	}
	l := &RunLock{pool: s.pool, conn: conn, scope: scope}
	ok, err := l.try(ctx)
	if err != nil || !ok {
		l.Release()
		if err != nil {
			return nil, fmt.Errorf("take the run lock: %w", err)
		}
		return nil, fmt.Errorf("%w for scope %s", ErrLocked, scope)
	}
	return l, nil
}

// try takes the keys on l.conn; on a partial success it lets go of what it
// took.
func (l *RunLock) try(ctx context.Context) (bool, error) {
	q := dbsqlc.New(l.conn)
	if l.scope.IsAll() {
		return q.TryLockFleet(ctx, lockClass)
	}
	return q.TryLockShard(ctx, lockClass, shardKey(l.scope))
}

// Check verifies that the lock is still held: that its connection is alive.
// If the connection died, it tries once to take the lock again on a new
// one, and returns ErrLockLost if it cannot.
func (l *RunLock) Check(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err == nil {
		return nil
	}
	l.conn.Release() // the pool discards a dead connection
	l.conn = nil
	// The dead session's locks go when its backend exits, which can take a
	// moment after the connection broke: try for a few seconds.
	for try := 0; try < 15; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(200 * time.Millisecond):
			}
		}
		conn, err := l.pool.Acquire(ctx)
		if err != nil {
			continue
		}
		l.conn = conn
		ok, err := l.try(ctx)
		if err == nil && ok {
			return nil
		}
		l.conn.Release()
		l.conn = nil
	}
	return ErrLockLost
}

// Release lets go of the lock and returns the connection to the pool.
func (l *RunLock) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dbsqlc.New(l.conn).UnlockAll(ctx); err != nil {
		// The session's locks go with it: close rather than return it.
		l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
	l.conn = nil
}
