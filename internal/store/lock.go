package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// lockClass is the first key of every advisory lock the job takes ("wxsy"),
// so that its locks cannot collide with another application's. Two-key
// advisory locks do not share a key space with goose's one-key lock.
const lockClass = 0x77787379

// ErrLocked means another run holds the lock of the scope, or of a scope
// that shares devices with it.
var ErrLocked = errors.New("another run holds the lock")

// ErrLockLost means the session that held the run lock ended (killed,
// timed out, network lost): another run may start at any moment, so this
// one may write nothing more.
var ErrLockLost = errors.New("the run lock was lost with its database session")

// RunLock is a session advisory lock held on a connection of its own,
// opened for it and closed with it: it is never part of the pool, so no
// other work can inherit the lock, and a cancelled context cannot hand the
// connection back still holding it. If the process dies, PostgreSQL ends
// the session and with it the lock.
//
// The run's statements go through this connection (Store.Fenced): once the
// session is gone, nothing the run sends can succeed, so no run that lost
// its lock writes beside the one that took it next.
//
// Which runs exclude which: a whole-fleet run holds the fleet key
// exclusively, a shard run holds it shared, so a fleet run excludes every
// shard. A shard run i/c also refuses to start while a shard i'/c' that
// can hold one of its devices runs: device hash h is in both when h ≡ i
// (mod c) and h ≡ i' (mod c'), which some h satisfies exactly when
// i ≡ i' (mod gcd(c, c')). So 0/2 and 1/2 run side by side, as do 0/4 and
// 1/2, while 0/4 and 0/2, or 0/3 and 1/2, exclude each other, whatever
// counts two deployments use during a rollout.
type RunLock struct {
	scope Scope
	conn  *fencedConn
}

// shardKey is the second key of shard i/c's lock; TryLockShard in
// queries/lock.sql decodes the keys other runs hold.
func shardKey(s Scope) int32 { return int32(s.Count*1024 + s.Index + 1) }

// LockRun takes the run lock of scope, waiting up to wait for it (0: do not
// wait). It returns ErrLocked when another run holds it.
func (s *Store) LockRun(ctx context.Context, scope Scope, wait time.Duration) (*RunLock, error) {
	conn, err := s.connectLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the run lock: %w", err)
	}
	try := func(ctx context.Context) error {
		ok, err := tryLock(ctx, conn, scope)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w for scope %s", ErrLocked, scope)
		}
		return nil
	}
	// The first try always happens, however short the wait: a free lock is
	// taken whatever --wait-for-lock says.
	err = try(ctx)
	for deadline := time.Now().Add(wait); errors.Is(err, ErrLocked) && time.Until(deadline) > 0; {
		t := time.NewTimer(min(250*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		case <-t.C:
			err = try(ctx)
		}
	}
	if err != nil {
		closeConn(conn)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("take the run lock: %w", context.Cause(ctx))
		}
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w for scope %s", ErrLocked, scope)
		}
		return nil, fmt.Errorf("take the run lock: %w", err)
	}
	return &RunLock{scope: scope, conn: newFencedConn(conn)}, nil
}

// connectLock opens the lock's own connection, with the pool's settings,
// and exempts it from idle_session_timeout: it is idle between statements
// by design, and its end is the lock's.
func (s *Store) connectLock(ctx context.Context) (*pgx.Conn, error) {
	var conn *pgx.Conn
	err := pgretry.Do(ctx, pgretry.Statement, func(ctx context.Context) error {
		var err error
		conn, err = pgx.ConnectConfig(ctx, lockConnConfig(s.pool.Config().ConnConfig))
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := dbsqlc.New(conn).KeepLockSession(ctx); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// tryLock takes scope's keys on conn, or nothing.
func tryLock(ctx context.Context, conn *pgx.Conn, scope Scope) (bool, error) {
	if scope.IsAll() {
		return dbsqlc.New(conn).TryLockFleet(ctx, lockClass)
	}
	// The overlap check and the taking are one step: every shard run takes
	// the gate first, for the length of this transaction.
	var ok bool
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		q := dbsqlc.New(tx)
		if err := q.LockShardGate(ctx, lockClass); err != nil {
			return err
		}
		var err error
		ok, err = q.TryLockShard(ctx, dbsqlc.TryLockShardParams{
			Class: lockClass, ShardKey: shardKey(scope), ShardIndex: int64(scope.Index), ShardCount: int64(scope.Count),
		})
		return err
	})
	return ok, err
}

// closeConn closes a lock connection, for at most a few seconds: its
// session's locks go with it.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// Watch returns when ctx ends (nil) or the lock is lost (ErrLockLost),
// whichever comes first. The run stops fetching when it returns an error.
func (l *RunLock) Watch(ctx context.Context) error { return l.conn.watch(ctx) }

// Lost reports whether the lock's session has ended (or the lock was
// released).
func (l *RunLock) Lost() bool {
	select {
	case <-l.conn.lost:
		return true
	default:
		return false
	}
}

// Release lets go of the lock and closes its connection, whatever state
// it is in.
func (l *RunLock) Release() {
	defer l.conn.markLost()
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if err := l.conn.acquire(ctx); err != nil {
		// A statement is stuck on the connection (a dead network): close
		// its socket under it, which ends the session and the lock.
		_ = l.conn.conn.PgConn().Conn().Close()
		return
	}
	defer l.conn.release()
	if !l.conn.conn.IsClosed() {
		_ = dbsqlc.New(l.conn.conn).UnlockAll(ctx)
	}
	_ = l.conn.conn.Close(ctx)
}
