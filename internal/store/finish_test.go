package store_test

import (
	"context"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
)

// TestFinishRunTrustsOrRecountsItsCounters: a batch applied twice (sent
// again after an answer lost with its commit) moves the run's counters
// twice; FinishRun then recounts from the tables (Counted false). A run
// whose every batch went once keeps its counters (Counted true), and they
// equal the recount.
func TestFinishRunTrustsOrRecountsItsCounters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "dev-a", "dev-b", "dev-c")
	batch := []store.Result{
		ok(phone("dev-a", "10.0.0.1", "AA:BB:CC:00:00:01", device.ActivationActivated)),
		ok(phone("dev-b", "10.0.0.2", "AA:BB:CC:00:00:02", device.ActivationActivated)),
		{DeviceID: "dev-c", Outcome: store.OutcomeNotFound},
	}
	counters := func(runID int64) (okN, notFound, changed, changes int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT devices_ok, devices_not_found, devices_changed, changes_recorded
			FROM sync_runs WHERE run_id = $1`, runID).Scan(&okN, &notFound, &changed, &changes); err != nil {
			t.Fatal(err)
		}
		return
	}

	run := startRun(t, st)
	for range 2 { // the second time as after a lost answer
		if _, err := st.ApplyResults(ctx, run.ID, batch); err != nil {
			t.Fatal(err)
		}
	}
	if o, nf, _, _ := counters(run.ID); o != 4 || nf != 2 {
		t.Fatalf("after the batch went twice: %d ok and %d not found counted, want 4 and 2 (the hazard the recount is for)", o, nf)
	}
	final, err := st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	// 2 devices with details: activation state, IP and MAC each recorded
	// once, the second send adding none.
	want := store.FinalCounts{OK: 2, NotFound: 1, Changed: 2, Changes: 6, Skipped: 0}
	if final != want {
		t.Errorf("recounted: %+v, want %+v", final, want)
	}
	if o, nf, ch, c := counters(run.ID); o != 2 || nf != 1 || ch != 2 || c != 6 {
		t.Errorf("sync_runs after the recount: %d ok, %d not found, %d changed, %d changes; want 2, 1, 2, 6", o, nf, ch, c)
	}

	// The next run, each batch once: the counters are kept as they are,
	// and they are what a recount finds.
	run = startRun(t, st)
	next := []store.Result{
		ok(phone("dev-a", "10.0.0.9", "AA:BB:CC:00:00:01", device.ActivationActivated)), // a new IP
		ok(phone("dev-b", "10.0.0.2", "AA:BB:CC:00:00:02", device.ActivationActivated)),
		{DeviceID: "dev-c", Outcome: store.OutcomeNotFound},
	}
	c, err := st.ApplyResults(ctx, run.ID, next)
	if err != nil {
		t.Fatal(err)
	}
	if c.Resent != 0 {
		t.Fatalf("a batch sent once reported %d resent", c.Resent)
	}
	final, err = st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded, Counted: true})
	if err != nil {
		t.Fatal(err)
	}
	want = store.FinalCounts{OK: 2, NotFound: 1, Changed: 1, Changes: 1}
	if final != want {
		t.Errorf("kept: %+v, want %+v", final, want)
	}
	var recount store.FinalCounts
	if err := pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM device_sync_state s JOIN devices d USING (device_id) WHERE s.last_run_id = $1 AND d.sync_status = 'ok'),
			(SELECT count(*) FROM device_sync_state s JOIN devices d USING (device_id) WHERE s.last_run_id = $1 AND d.sync_status = 'not_found'),
			(SELECT count(DISTINCT device_id) FROM device_changes WHERE run_id = $1),
			(SELECT count(*) FROM device_changes WHERE run_id = $1)`, run.ID).
		Scan(&recount.OK, &recount.NotFound, &recount.Changed, &recount.Changes); err != nil {
		t.Fatal(err)
	}
	if recount != want {
		t.Errorf("the tables hold %+v, the kept counters say %+v", recount, want)
	}
}

// TestApplyResultsReportsABatchSentAgain: a batch whose session ends while
// its statement runs is sent again on another connection, and says so
// (Resent), so that the run recounts at its end.
func TestApplyResultsReportsABatchSentAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "dev-a", "dev-b")
	run := startRun(t, st)
	var dbName string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}

	// Hold the run's row, which the batch's statement updates last, so
	// that the statement waits on it.
	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	var blockerPID int
	if err := blocker.QueryRow(ctx, `SELECT pg_backend_pid() FROM sync_runs WHERE run_id = $1 FOR UPDATE`, run.ID).Scan(&blockerPID); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		c   store.BatchCounts
		err error
	}
	done := make(chan answer, 1)
	go func() {
		c, err := st.ApplyResults(ctx, run.ID, []store.Result{
			ok(phone("dev-a", "10.0.0.1", "AA:BB:CC:00:00:01", device.ActivationActivated)),
			ok(phone("dev-b", "10.0.0.2", "AA:BB:CC:00:00:02", device.ActivationActivated)),
		})
		done <- answer{c, err}
	}()
	// End the waiting statement's session, then let the next attempt
	// through.
	var waiting int
	waitfor.Cond(t, "the batch's statement to wait on the run's row", func() bool {
		err := pool.QueryRow(ctx, `SELECT coalesce(min(pid), 0) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> $2 AND wait_event_type = 'Lock'`, dbName, blockerPID).Scan(&waiting)
		return err == nil && waiting != 0
	})
	var ended bool
	if err := pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, waiting).Scan(&ended); err != nil || !ended {
		t.Fatalf("ending the session of the batch's statement: %v (ended %v)", err, ended)
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil {
		t.Fatalf("the batch, sent again on another connection: %v", a.err)
	}
	if a.c.Resent != 1 || a.c.OK != 2 {
		t.Errorf("the batch sent again: %+v, want 2 ok and Resent 1", a.c)
	}
}

// TestABatchSentTwiceCountsAFailureOnce: a failed device's run of failures
// grows by one a run, however often the run's batch was sent. (A failure
// counted twice would make a new forbidden device look like one already
// failing the run before, which --tolerate-forbidden forgives.)
func TestABatchSentTwiceCountsAFailureOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "dev-new", "dev-known")
	failures := func(id string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT consecutive_failures FROM device_sync_state WHERE device_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	forbidden := func(id string) store.Result {
		return store.Result{DeviceID: id, Outcome: store.OutcomeForbidden, Error: "403"}
	}
	// dev-known has a state row from an earlier run; dev-new has none.
	run := startRun(t, st)
	if _, err := st.ApplyResults(ctx, run.ID, []store.Result{ok(phone("dev-known", "10.0.0.1", "", device.ActivationActivated))}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	for r := 1; r <= 2; r++ {
		run = startRun(t, st)
		for range 2 { // the second time as after a lost answer
			if _, err := st.ApplyResults(ctx, run.ID, []store.Result{forbidden("dev-new"), forbidden("dev-known")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunFailed}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"dev-new", "dev-known"} {
			if n := failures(id); n != r {
				t.Errorf("%s after %d failed runs, each batch sent twice: %d consecutive failures, want %d", id, r, n, r)
			}
		}
	}
}
