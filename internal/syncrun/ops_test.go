package syncrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func countRuns(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM sync_runs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSecondRunOfTheSameScopeWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 20})
	ctx := context.Background()
	held, err := e.st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = syncrun.Run(ctx, e.st, e.client, syncrun.Config{})
	if !errors.Is(err, syncrun.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if n := countRuns(t, e); n != 0 {
		t.Errorf("the skipped run wrote %d sync_runs rows", n)
	}
	if n := e.sim.Stats().Requests; n != 0 {
		t.Errorf("the skipped run sent %d requests", n)
	}

	// A shard run is excluded by a whole-fleet run, and the other way round;
	// shards run side by side.
	if _, err := e.st.LockRun(ctx, store.Scope{Index: 0, Count: 2}, 0); !errors.Is(err, store.ErrLocked) {
		t.Errorf("shard lock while the fleet is locked: %v", err)
	}
	// With --wait-for-lock, the lock is taken once the holder lets go: the
	// waiter is refused first (its try, in sessions of its own, rolled
	// back), still waits, and has the lock once it is released.
	wcfg := e.pool.Config()
	wcfg.ConnConfig.RuntimeParams["application_name"] = "lock-waiter"
	wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wpool.Close()
	type taken struct {
		lock *store.RunLock
		err  error
	}
	waiting := make(chan taken, 1)
	go func() {
		l, err := store.New(wpool).LockRun(ctx, store.All, time.Minute)
		waiting <- taken{l, err}
	}()
	waitfor.Cond(t, "the waiter to be refused the lock", func() bool {
		var refused bool
		err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'lock-waiter' AND state = 'idle' AND query = 'rollback')`).Scan(&refused)
		return err == nil && refused
	})
	select {
	case got := <-waiting:
		t.Fatalf("LockRun returned (%v) while the lock was held, without waiting", got.err)
	default:
	}
	held.Release()
	got := <-waiting
	if got.err != nil {
		t.Fatalf("waiting for the lock: %v", got.err)
	}
	got.lock.Release()
	s0, err := e.st.LockRun(ctx, store.Scope{Index: 0, Count: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Release()
	s1, err := e.st.LockRun(ctx, store.Scope{Index: 1, Count: 2}, 0)
	if err != nil {
		t.Fatalf("two shards must run side by side: %v", err)
	}
	defer s1.Release()
	if _, err := e.st.LockRun(ctx, store.All, 0); !errors.Is(err, store.ErrLocked) {
		t.Errorf("fleet lock while shards run: %v", err)
	}
	// Issue 11 item 13: a run of another shard count (a pod of the next
	// deployment) does not start beside shards that share its devices.
	if _, err := syncrun.Run(ctx, e.st, e.client, syncrun.Config{Scope: store.Scope{Index: 0, Count: 4}}); !errors.Is(err, syncrun.ErrLocked) {
		t.Errorf("run 0/4 while 0/2 and 1/2 run: %v, want ErrLocked", err)
	}
	if n := e.sim.Stats().Requests; n != 0 {
		t.Errorf("the refused runs sent %d requests", n)
	}
}

func TestShardsCoverTheFleetOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 300})
	total := 0
	for i := range 3 {
		sum := e.run(t, context.Background(), syncrun.Config{Scope: store.Scope{Index: i, Count: 3}})
		if sum.Status != store.RunSucceeded || sum.Counts.OK != sum.Total {
			t.Fatalf("shard %d: %s, %d of %d", i, sum.Status, sum.Counts.OK, sum.Total)
		}
		if sum.Total < 60 || sum.Total > 140 {
			t.Errorf("shard %d has %d of 300 devices; the hash should spread them", i, sum.Total)
		}
		total += sum.Total
	}
	if total != 300 {
		t.Errorf("shards covered %d devices, want 300", total)
	}
	if n := e.sim.Stats().Details; n != 300 {
		t.Errorf("%d requests for 300 devices: a device was fetched by two shards", n)
	}
}

func TestRunsLeftRunningAreMarkedAbandoned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 10})
	ctx := context.Background()
	var dead, otherShard int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO sync_runs (scope) VALUES ('all') RETURNING run_id`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	sum := e.run(t, ctx, syncrun.Config{})
	if len(sum.Abandoned) != 1 || sum.Abandoned[0] != dead {
		t.Errorf("abandoned = %v, want [%d]", sum.Abandoned, dead)
	}
	var status string
	var finished bool
	if err := e.pool.QueryRow(ctx, `SELECT status, finished_at IS NOT NULL FROM sync_runs WHERE run_id = $1`, dead).Scan(&status, &finished); err != nil || status != "abandoned" || !finished {
		t.Errorf("dead run: %s, finished %v (err %v)", status, finished, err)
	}
	// A shard run leaves another shard's running run alone: it may be alive.
	if err := e.pool.QueryRow(ctx, `INSERT INTO sync_runs (scope) VALUES ('1/2') RETURNING run_id`).Scan(&otherShard); err != nil {
		t.Fatal(err)
	}
	// A run of a scope that shares devices with it is over, though: 0/4
	// and 2/4 lie inside 0/2, 0/2 inside 0/1 (its whole fleet, split one
	// way); 1/4 and 3/4 share nothing with 0/2.
	overlapping := map[int64]string{}
	for _, scope := range []string{"0/4", "2/4", "1/4", "3/4", "0/1"} {
		var id int64
		if err := e.pool.QueryRow(ctx, `INSERT INTO sync_runs (scope) VALUES ($1) RETURNING run_id`, scope).Scan(&id); err != nil {
			t.Fatal(err)
		}
		overlapping[id] = scope
	}
	sum = e.run(t, ctx, syncrun.Config{Scope: store.Scope{Index: 0, Count: 2}})
	var got []string
	for _, id := range sum.Abandoned {
		scope, ok := overlapping[id]
		if !ok {
			scope = fmt.Sprintf("run %d", id)
		}
		got = append(got, scope)
	}
	if want := []string{"0/4", "2/4", "0/1"}; !slices.Equal(got, want) {
		t.Errorf("shard 0/2 abandoned %v, want the runs of %v (not 1/2's, 1/4's or 3/4's: they share no device)", got, want)
	}
}

func TestRunAccountingMovesAsItGoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 200, clientRate: 400, clientBurst: 5})
	var seen atomic.Bool
	sum := e.run(t, context.Background(), syncrun.Config{BatchSize: 20, OnProgress: func(p syncrun.Progress) {
		if p.Done < 100 || seen.Load() {
			return
		}
		var status string
		var ok int
		err := e.pool.QueryRow(context.Background(), `SELECT status, devices_ok FROM sync_runs WHERE run_id = $1`, p.RunID).Scan(&status, &ok)
		if err != nil || status != "running" || ok < 100 {
			t.Errorf("mid-run sync_runs row: %s, %d ok (err %v); want running with the stored devices counted", status, ok, err)
		}
		seen.Store(true)
	}})
	if !seen.Load() || sum.Status != store.RunSucceeded {
		t.Fatalf("run %s; progress check ran: %v", sum.Status, seen.Load())
	}
}

func TestTimeBudgetEndsTheRunAndLaterRunsCoverTheRest(t *testing.T) {
	t.Parallel()
	// The budget is measured by a clock the test moves: each run's hour
	// ends once it has stored its first 30 devices, however loaded the
	// machine. At 60 requests a second, the other 270 are still to fetch.
	e := newEnv(t, envOpts{devices: 300, clientRate: 60, clientBurst: 1})
	clock := newFakeClock()
	const perRun = 30
	stored := map[string]bool{}
	for i := 0; i < 300/perRun+2 && len(stored) < 300; i++ {
		var ended atomic.Bool
		// Every device due every run, so that the budget alone decides what
		// a run reaches.
		sum := e.run(t, context.Background(), syncrun.Config{MaxDuration: time.Hour, Clock: clock, BatchSize: 20, Detect: store.DetectNone,
			OnProgress: func(p syncrun.Progress) {
				if p.Done >= perRun && !ended.Swap(true) {
					clock.Advance(time.Hour)
				}
			}})
		if !sum.BudgetReached && i == 0 {
			t.Fatalf("the budget did not bite: %s, %d of %d ok", sum.Status, sum.Counts.OK, sum.Total)
		}
		if sum.Counts.OK < 300 && (!sum.BudgetReached || sum.Status != store.RunPartial || sum.Counts.Skipped != sum.Total-sum.Counts.OK) {
			t.Errorf("run %d: status %s, budget %v, skipped %d of %d with %d ok", i, sum.Status, sum.BudgetReached, sum.Counts.Skipped, sum.Total, sum.Counts.OK)
		}
		// The reason is recorded with the run (issue 11, item 12).
		if sum.BudgetReached {
			wantErr := fmt.Sprintf("time budget of 1h0m0s reached; %d devices left for the next run", sum.Counts.Skipped)
			if r := readRun(t, e.pool, sum.RunID); r.Error == nil || *r.Error != wantErr || sum.Err == nil || sum.Err.Error() != wantErr {
				t.Errorf("run %d: sync_runs.error %v, summary %v; want %q in both", i, r.Error, sum.Err, wantErr)
			}
		}
		rows, err := e.pool.Query(context.Background(), `SELECT device_id FROM device_sync_state WHERE last_run_id = $1`, sum.RunID)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			stored[id] = true
		}
	}
	if len(stored) != 300 {
		t.Errorf("successive budgeted runs covered %d of 300 devices", len(stored))
	}
	var dup int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT device_id, field FROM device_changes GROUP BY 1, 2 HAVING count(*) > 1) x`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("%d duplicate history rows after budgeted runs", dup)
	}
}

func TestRetryAfterBeyondTheBudgetDoesNotKeepTheRunAsleep(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 40, clientRate: 1000, clientBurst: 10})
	ids := e.sim.IDs()
	// A Retry-After of an hour against a budget of a minute: the run stops
	// at once, however long its start took.
	e.sim.SetFault(ids[5], webexsim.Fault{Kind: webexsim.FaultLocked, RetryAfter: time.Hour})
	sum := e.run(t, context.Background(), syncrun.Config{MaxDuration: time.Minute, Concurrency: 2})
	// A run that slept out the hour would have asked again, and met the
	// fault a second time.
	if n := e.sim.Stats().Faults[webexsim.FaultLocked]; n != 1 {
		t.Errorf("the locked device was asked %d times, want once: the run waited out a Retry-After beyond its budget", n)
	}
	if !sum.BudgetReached || sum.Counts.Skipped == 0 || sum.Counts.Failed != 0 {
		t.Errorf("summary %+v; want the budget reached, the throttled devices skipped, none failed", sum)
	}
	var status string
	if err := e.pool.QueryRow(context.Background(), `SELECT sync_status FROM devices WHERE device_id = $1`, ids[5]).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "pending" {
		t.Errorf("the locked device is %q; it is left for the next run", status)
	}
}

// TestATakeOverStopsTheRun: mid-run, the run's lease expires (as it
// would while the run could not reach its database) and another run takes
// the scope over. From that moment the first run commits nothing (every
// transaction of it checks its lease), stops, and says so; its sync_runs
// row is left for the run that took over to mark abandoned.
func TestATakeOverStopsTheRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 600, clientRate: 600, clientBurst: 10})
	ctx := context.Background()
	var (
		taken          atomic.Int32
		storedAtTake   int
		requestsAtTake int64
		next           *store.RunLock
	)
	sum := e.run(t, ctx, syncrun.Config{BatchSize: 50, OnProgress: func(p syncrun.Progress) {
		if p.Done < 200 || !taken.CompareAndSwap(0, 1) {
			return
		}
		requestsAtTake = e.sim.Stats().Details
		if _, err := e.admin.Exec(ctx, `UPDATE run_leases SET expires_at = now() - interval '1 second'`); err != nil {
			t.Error(err)
		}
		// Another batch of the run may be in flight: the take-over waits
		// for it (it is refused while the batch holds the lease's row).
		var err error
		if next, err = e.st.LockRun(ctx, store.All, 30*time.Second); err != nil {
			t.Errorf("the next run could not take the scope over: %v", err)
		}
		if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM device_sync_state WHERE last_run_id = $1`, p.RunID).Scan(&storedAtTake); err != nil {
			t.Error(err)
		}
	}})
	if next != nil {
		defer next.Release()
	}
	if taken.Load() != 1 {
		t.Fatal("the scope was never taken over")
	}
	if sum.Status != store.RunFailed || !errors.Is(sum.Err, store.ErrTakenOver) {
		t.Fatalf("status %s, err %v; want failed, taken over", sum.Status, sum.Err)
	}
	var written int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM device_sync_state WHERE last_run_id = $1`, sum.RunID).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if written != storedAtTake {
		t.Errorf("the run wrote %d devices, %d of them after the take-over", written, written-storedAtTake)
	}
	got := readRun(t, e.pool, sum.RunID)
	if got.Status != "running" || got.OK+got.NotFound+got.Failed != storedAtTake {
		t.Errorf("sync_runs %+v; want it as the take-over found it: running, %d devices", got, storedAtTake)
	}
	if sum.Counts.OK+sum.Counts.NotFound+sum.Counts.Failed != storedAtTake {
		t.Errorf("summary counts %+v; want the %d devices stored before the take-over", sum.Counts, storedAtTake)
	}
	if !strings.Contains(e.logs.String(), "another run took over this run's scope") {
		t.Errorf("the run did not say it was taken over:\n%s", e.logs.String())
	}
	assertHistoryMatchesDevices(t, e)
	t.Logf("requests after the take-over: %d (in flight when it came, or sent before the run heard)", e.sim.Stats().Details-requestsAtTake)
}

// assertHistoryMatchesDevices checks that the newest history row of every
// field holds the device's current value: no device change lacks its
// history row, and no history row lacks its device change.
func assertHistoryMatchesDevices(t *testing.T, e *env) {
	t.Helper()
	var bad int
	err := e.pool.QueryRow(context.Background(), `
		WITH latest AS (
		    SELECT DISTINCT ON (device_id, field) device_id, field, new_value
		    FROM device_changes ORDER BY device_id, field, change_id DESC
		)
		SELECT count(*) FROM devices d
		WHERE d.sync_status = 'ok' AND (
		      host(d.ip) IS DISTINCT FROM (SELECT new_value FROM latest l WHERE l.device_id = d.device_id AND l.field = 'ip')
		   OR d.mac::text IS DISTINCT FROM (SELECT new_value FROM latest l WHERE l.device_id = d.device_id AND l.field = 'mac')
		   OR d.activation_state IS DISTINCT FROM (SELECT new_value FROM latest l WHERE l.device_id = d.device_id AND l.field = 'activation_state'))`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Errorf("%d devices whose history does not end at their current values (err %v)", bad, err)
	}
}

// TestRunRecordsTheTimeSinceTheProcessStarted starts a run as if the
// process had spent a minute and a half connecting and waiting for the
// lock: sync_runs and the summary count that time.
func TestRunRecordsTheTimeSinceTheProcessStarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 10})
	started := time.Now().Add(-90 * time.Second).Truncate(time.Microsecond)
	sum := e.run(t, context.Background(), syncrun.Config{Started: started})
	var recorded time.Time
	var took time.Duration
	if err := e.pool.QueryRow(context.Background(),
		`SELECT started_at, finished_at - started_at FROM sync_runs WHERE run_id = $1`, sum.RunID).Scan(&recorded, &took); err != nil {
		t.Fatal(err)
	}
	if !recorded.Equal(started) {
		t.Errorf("sync_runs.started_at = %v, want the process start %v", recorded, started)
	}
	if took < 90*time.Second || sum.Duration < 90*time.Second {
		t.Errorf("recorded %v, summary %v; both must count the 90 s before the run started", took, sum.Duration)
	}
}
