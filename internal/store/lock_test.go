package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// leases counts the run locks held in the pool's database.
func leases(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM run_leases`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// expire moves a lease's expiry into the past, as the lease's length would
// once its holder stops renewing it, without waiting for it.
func expire(t *testing.T, pool *pgxpool.Pool, scope store.Scope) {
	t.Helper()
	tag, err := pool.Exec(context.Background(), `UPDATE run_leases SET expires_at = now() - interval '1 second' WHERE scope = $1`, scope.String())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("expire the lease of %s: %v (%d rows)", scope, err, tag.RowsAffected())
	}
}

var quiet = discardLogger()

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
		if n := leases(t, pool); n != 0 {
			t.Fatalf("%d leases left after releasing every lock", n)
		}
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

// TestTakeOverFencesTheOldRun: a run whose lease expired (it was cut off
// from the database, or killed) keeps its scope until another run takes
// it; from then on nothing of the old run commits, and it is told who took
// over. Before the take-over, its statements and its renewals go on as if
// nothing had happened.
func TestTakeOverFencesTheOldRun(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	old, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	fenced := st.Fenced(old, quiet)
	run, err := fenced.StartRun(ctx, store.All, store.DetectNone)
	if err != nil {
		t.Fatal(err)
	}

	// Expired, but no one took over: the old run goes on.
	expire(t, pool, store.All)
	if _, err := fenced.QueueDue(ctx, &run, store.DueOptions{}); err != nil {
		t.Fatalf("a statement of a run whose lease expired, with no one taking over: %v", err)
	}

	// A run of a scope that shares devices takes over.
	next, err := st.LockRun(ctx, store.Scope{Index: 1, Count: 2}, 0)
	if err != nil {
		t.Fatalf("take over an expired lease: %v", err)
	}
	defer next.Release()
	nextRun, err := st.Fenced(next, quiet).StartRun(ctx, store.Scope{Index: 1, Count: 2}, store.DetectNone)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fenced.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded})
	if !errors.Is(err, store.ErrTakenOver) {
		t.Fatalf("the old run's statement after the take-over: %v, want ErrTakenOver", err)
	}
	for _, want := range []string{"scope all", "run " + itoa(nextRun.ID), "scope 1/2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	select {
	case <-old.Lost():
	default:
		t.Error("the old lock does not say it was lost")
	}
	if err := old.Keep(ctx, quiet); !errors.Is(err, store.ErrTakenOver) {
		t.Errorf("Keep after the take-over: %v, want ErrTakenOver", err)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM sync_runs WHERE run_id = $1`, run.ID).Scan(&status); err != nil || status != "running" {
		t.Errorf("the old run's row: %q (%v), want it as it was (running)", status, err)
	}
	// The old run's release cannot free the new run's scope.
	old.Release()
	if _, err := st.LockRun(ctx, store.Scope{Index: 1, Count: 2}, 0); !errors.Is(err, store.ErrLocked) {
		t.Errorf("after the old run's release: %v, want the new run's lock held", err)
	}
}

// TestKeepRenewsTheLease: a run that keeps its lock moves the lease's
// expiry forward, again and again, and another run is refused meanwhile.
func TestKeepRenewsTheLease(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool).WithLease(3 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	kept := make(chan error, 1)
	go func() { kept <- l.Keep(ctx, quiet) }()
	expiry := func() time.Time {
		var at time.Time
		if err := pool.QueryRow(ctx, `SELECT expires_at FROM run_leases`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	last := expiry()
	for i := range 2 {
		waitfor.Cond(t, fmt.Sprintf("renewal %d", i+1), func() bool { return expiry().After(last) })
		last = expiry()
		if _, err := st.LockRun(ctx, store.All, 0); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("another run while the lease is kept: %v, want ErrLocked", err)
		}
	}
	cancel()
	if err := <-kept; err != nil {
		t.Errorf("Keep = %v, want nil when its context ends", err)
	}
}

// TestTakeOverWaitsForTheHoldersTransaction: while a transaction of the
// holder is in flight (blocked here behind a LOCK TABLE), another run
// cannot take the scope over even though the lease has expired: it is
// refused at once, and takes over once that transaction has committed.
// So nothing the old run began before the take-over commits after it.
func TestTakeOverWaitsForTheHoldersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	old, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Release()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE sync_runs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		_, err := st.Fenced(old, quiet).StartRun(ctx, store.All, store.DetectNone)
		started <- err
	}()
	waitForLockWait(t, pool, "sync_runs")
	expire(t, pool, store.All)
	if _, err := st.LockRun(ctx, store.All, 0); !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "writing") {
		t.Fatalf("take over while the holder's transaction is in flight: %v, want ErrLocked (its holder is writing)", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("the holder's transaction, once the table was free: %v", err)
	}
	next, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatalf("take over once the holder's transaction ended: %v", err)
	}
	next.Release()
}

// waitForLockWait returns once a statement of the pool's database waits
// for a lock on table.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool, table string) {
	t.Helper()
	for {
		var waiting bool
		if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%')`, table).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestARunOfAnEarlierVersionExcludes: during a rollout, a run of the version
// before leases holds session advisory locks; a new run does not start
// beside one that shares devices with it.
func TestARunOfAnEarlierVersionExcludes(t *testing.T) {
	t.Parallel()
	const class = 0x77787379
	sh := func(i, c int) store.Scope { return store.Scope{Index: i, Count: c} }
	tests := []struct {
		name       string
		held       []string // the earlier version's lock statements
		want       store.Scope
		wantLocked bool
	}{
		{"fleet vs shard", []string{"SELECT pg_advisory_lock($1, 0)"}, sh(1, 2), true},
		{"shard 0/2 vs 0/4", []string{"SELECT pg_advisory_lock_shared($1, 0)", "SELECT pg_advisory_lock($1, 2*1024 + 0 + 1)"}, sh(0, 4), true},
		{"shard 0/2 vs 1/2", []string{"SELECT pg_advisory_lock_shared($1, 0)", "SELECT pg_advisory_lock($1, 2*1024 + 0 + 1)"}, sh(1, 2), false},
		{"shard 0/2 vs fleet", []string{"SELECT pg_advisory_lock_shared($1, 0)", "SELECT pg_advisory_lock($1, 2*1024 + 0 + 1)"}, store.All, true},
	}
	url := pgtest.DBURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			for _, q := range tt.held {
				if _, err := conn.Exec(ctx, q, class); err != nil {
					t.Fatal(err)
				}
			}
			l, err := st.LockRun(ctx, tt.want, 0)
			switch {
			case tt.wantLocked && (!errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "earlier version")):
				t.Errorf("%s: %v, want ErrLocked by an earlier version", tt.want, err)
			case !tt.wantLocked && err != nil:
				t.Errorf("%s: %v, want the lock", tt.want, err)
			case err == nil:
				l.Release()
			}
		})
	}
}

// TestFencedStatementsSurviveLostSessions ends every session of the
// database, the run's included, between and during its statements: each
// statement is tried again on another connection, and the run's lock is
// still its own.
func TestFencedStatementsSurviveLostSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	admin := pgtest.DB(t) // another database: the killer's own sessions live
	st := store.New(pool)
	track(t, pool, "dev-a", "dev-b", "dev-c")
	l, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var dbName string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	kill := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	fenced := st.Fenced(l, quiet)
	var killed int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				killed += kill()
			}
		}
	}()
	run, err := fenced.StartRun(ctx, store.All, store.DetectNone)
	if err == nil {
		_, err = fenced.QueueDue(ctx, &run, store.DueOptions{})
	}
	for i := 0; err == nil && i < 20; i++ {
		err = fenced.DueDevices(ctx, run, 2, func(d store.DueDevice) error {
			_, err := fenced.ApplyResults(ctx, run.ID, []store.Result{{DeviceID: d.ID, Outcome: store.OutcomeNotFound}})
			return err
		})
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("a run's statements while its sessions are ended every 50 ms: %v", err)
	}
	if killed == 0 {
		t.Fatal("no session was ended: the test proves nothing")
	}
	if _, err := fenced.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	var runs, notFound int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM sync_runs), (SELECT devices_not_found FROM sync_runs WHERE run_id = $1)`, run.ID).Scan(&runs, &notFound); err != nil {
		t.Fatal(err)
	}
	if runs != 1 || notFound != 3 {
		t.Errorf("%d sync_runs rows, %d devices not found; want one run that stored the 3 devices", runs, notFound)
	}
	t.Logf("sessions ended: %d", killed)
}
