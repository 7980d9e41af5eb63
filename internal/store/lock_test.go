package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// advisoryLocks counts the job's advisory locks held in the pool's database.
func advisoryLocks(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = 2004382585
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReleaseAfterACancelledContextLetsGo is the lock leak: a Check with a
// cancelled context used to hand the connection, still holding the lock,
// back to the pool, so that the lock outlived Release. Whatever the lock's
// connection went through (a statement, a watch, both cancelled), Release
// lets go.
func TestReleaseAfterACancelledContextLetsGo(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	for _, scope := range []store.Scope{store.All, {Index: 1, Count: 3}} {
		l, err := st.LockRun(ctx, scope, 0)
		if err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.Fenced(l).StartRun(cancelled, scope, store.DetectNone); err == nil {
			t.Errorf("%s: a statement with a cancelled context succeeded", scope)
		}
		if err := l.Watch(cancelled); err != nil {
			t.Errorf("%s: Watch with a cancelled context = %v, want nil (the lock is not lost)", scope, err)
		}
		l.Release()
		if n := advisoryLocks(t, pool); n != 0 {
			t.Errorf("%s: %d advisory locks still held after Release", scope, n)
		}
		again, err := st.LockRun(ctx, scope, 0)
		if err != nil {
			t.Fatalf("%s: the lock cannot be taken again after Release: %v", scope, err)
		}
		again.Release()
	}
}

// TestScopesThatShareDevicesExcludeEachOther covers shards of different
// counts at once (a rollout from --shard-count 2 to 4, say): a run's lock
// covers every device it may touch, whatever the other run's arithmetic.
func TestScopesThatShareDevicesExcludeEachOther(t *testing.T) {
	t.Parallel()
	all := store.All
	sh := func(i, c int) store.Scope { return store.Scope{Index: i, Count: c} }
	tests := []struct {
		held   []store.Scope
		want   store.Scope
		locked bool
	}{
		{[]store.Scope{sh(0, 2)}, sh(0, 2), true},
		{[]store.Scope{sh(0, 2)}, sh(1, 2), false},
		{[]store.Scope{sh(0, 2), sh(1, 2)}, sh(0, 4), true}, // issue 11 item 13
		{[]store.Scope{sh(0, 2)}, sh(2, 4), true},           // 2 ≡ 0 mod 2
		{[]store.Scope{sh(1, 2)}, sh(0, 4), false},          // even hashes vs odd ones
		{[]store.Scope{sh(0, 4)}, sh(1, 2), false},
		{[]store.Scope{sh(0, 4)}, sh(0, 2), true},
		{[]store.Scope{sh(0, 3)}, sh(1, 2), true}, // gcd 1: every pair overlaps
		{[]store.Scope{sh(5, 6)}, sh(1, 4), true}, // h = 5 mod 12
		{[]store.Scope{sh(5, 6)}, sh(0, 4), false},
		{[]store.Scope{all}, sh(0, 2), true},
		{[]store.Scope{sh(3, 7)}, all, true},
		{[]store.Scope{all}, all, true},
	}
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	for _, tt := range tests {
		var held []*store.RunLock
		for _, h := range tt.held {
			l, err := st.LockRun(ctx, h, 0)
			if err != nil {
				t.Fatalf("hold %s: %v", h, err)
			}
			held = append(held, l)
		}
		l, err := st.LockRun(ctx, tt.want, 0)
		switch {
		case tt.locked && !errors.Is(err, store.ErrLocked):
			t.Errorf("%s while %v run: err %v, want ErrLocked", tt.want, tt.held, err)
		case !tt.locked && err != nil:
			t.Errorf("%s while %v run: %v, want the lock", tt.want, tt.held, err)
		}
		if err == nil {
			l.Release()
		}
		for _, h := range held {
			h.Release()
		}
		if n := advisoryLocks(t, pool); n != 0 {
			t.Fatalf("%d advisory locks left after releasing every lock", n)
		}
	}
}

// TestLockIsLostWithItsSession ends the lock's session from outside: the
// lock reports the loss at once, never takes the lock again behind a run
// that may have started, and its fenced store refuses to write.
func TestLockIsLostWithItsSession(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	l, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	watched := make(chan error, 1)
	go func() { watched <- l.Watch(ctx) }()
	if _, err := pool.Exec(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 2004382585
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	if err := <-watched; !errors.Is(err, store.ErrLockLost) {
		t.Errorf("Watch = %v, want ErrLockLost", err)
	}
	// Another run takes the lock; the first one's store cannot write.
	next, err := st.LockRun(ctx, store.All, 10*time.Second)
	if err != nil {
		t.Fatalf("the lock of a dead session cannot be taken: %v", err)
	}
	defer next.Release()
	if _, err := st.Fenced(l).StartRun(ctx, store.All, store.DetectNone); !errors.Is(err, store.ErrLockLost) {
		t.Errorf("StartRun through a lost lock: %v, want ErrLockLost", err)
	}
	if !l.Lost() {
		t.Error("Lost() = false after the session ended")
	}
}

// blockedRun takes the fleet's run lock and holds sync_runs behind a LOCK
// TABLE, so that the run's next StartRun waits on the server. waiting
// returns once a statement waits on it; free lets go of the table.
type blockedRun struct {
	pool   *pgxpool.Pool
	lock   *store.RunLock
	fenced *store.Store
	tx     pgx.Tx
}

func newBlockedRun(t *testing.T) *blockedRun {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	l, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, "LOCK TABLE sync_runs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return &blockedRun{pool: pool, lock: l, fenced: st.Fenced(l), tx: tx}
}

func (b *blockedRun) waiting(t *testing.T) {
	for {
		var waiting bool
		if err := b.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%sync_runs%')`).Scan(&waiting); err != nil {
			t.Error(err)
			return
		}
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *blockedRun) free(t *testing.T) {
	if err := b.tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCancelledStatementKeepsTheLock cancels a run's statement while the
// server runs it (blocked here by a LOCK TABLE; a signal or the time budget
// in real life): the statement fails, and the lock, its session and the
// run's next statements are unharmed. pgx's default would break the
// connection, ending the session and the lock with it.
func TestCancelledStatementKeepsTheLock(t *testing.T) {
	t.Parallel()
	b := newBlockedRun(t)
	sctx, cancel := context.WithCancel(context.Background())
	go func() {
		b.waiting(t)
		cancel()
	}()
	if _, err := b.fenced.StartRun(sctx, store.All, store.DetectNone); err == nil {
		t.Fatal("the blocked statement succeeded")
	}
	b.free(t)
	if b.lock.Lost() || advisoryLocks(t, b.pool) != 1 {
		t.Fatalf("lost %v, %d advisory locks held: the cancellation ended the lock's session", b.lock.Lost(), advisoryLocks(t, b.pool))
	}
	if _, err := b.fenced.StartRun(context.Background(), store.All, store.DetectNone); err != nil {
		t.Errorf("the next statement on the lock's connection: %v", err)
	}
}

// TestStatementsWaitForTheLockConnectionWithinTheirContext: while one of
// the run's statements holds the lock's connection (stuck here behind a
// LOCK TABLE; on a dead network in real life), another one gives up when
// its own context ends instead of waiting for the first: the writer's
// timeout still bounds a write.
func TestStatementsWaitForTheLockConnectionWithinTheirContext(t *testing.T) {
	t.Parallel()
	b := newBlockedRun(t)
	stuck := make(chan error, 1)
	go func() {
		_, err := b.fenced.StartRun(context.Background(), store.All, store.DetectNone)
		stuck <- err
	}()
	b.waiting(t)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.fenced.DueDevices(cctx, store.Run{ID: 1}, 10, func(store.DueDevice) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a second statement while the first holds the connection: %v, want it to give up with its context", err)
	}
	select {
	case err := <-stuck:
		t.Fatalf("the first statement ended early: %v", err)
	default:
	}
	b.free(t)
	if err := <-stuck; err != nil {
		t.Errorf("the first statement, once the table was free: %v", err)
	}
}

// TestTheFirstTryNeedsNoWait: however short the wait (--wait-for-lock 1ns),
// a free lock is taken, and a held one is refused as held, not as a
// deadline exceeded.
func TestTheFirstTryNeedsNoWait(t *testing.T) {
	t.Parallel()
	st := store.New(pgtest.DB(t))
	ctx := context.Background()
	l, err := st.LockRun(ctx, store.All, time.Nanosecond)
	if err != nil {
		t.Fatalf("a free lock with a 1ns wait: %v", err)
	}
	defer l.Release()
	if _, err := st.LockRun(ctx, store.All, time.Nanosecond); !errors.Is(err, store.ErrLocked) {
		t.Errorf("a held lock with a 1ns wait: %v, want ErrLocked", err)
	}
}
