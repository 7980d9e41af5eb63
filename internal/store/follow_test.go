package store_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// stateRows returns how many device_sync_state rows name id.
func stateRows(t *testing.T, pool *pgxpool.Pool, id string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM device_sync_state WHERE device_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// orphanStateRows counts state rows whose devices row is gone.
func orphanStateRows(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*) FROM device_sync_state s
		WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = s.device_id)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A device's state row goes with its devices row, however the row goes
// (migration 00020 keeps this by triggers instead of a foreign key).
func TestStateRowGoesWithItsDevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "A", "B", "C")
	apply(t, st, startRun(t, st),
		ok(phone("A", "10.0.0.1", "000000000001", "")),
		ok(phone("B", "10.0.0.2", "000000000002", "")),
		ok(phone("C", "10.0.0.3", "000000000003", "")))
	for _, id := range []string{"A", "B", "C"} {
		if n := stateRows(t, pool, id); n != 1 {
			t.Fatalf("%s: %d state rows after its first sync, want 1", id, n)
		}
	}

	if _, err := pool.Exec(ctx, `DELETE FROM devices WHERE device_id = ANY ('{A,B}')`); err != nil {
		t.Fatal(err)
	}
	if got := [3]int{stateRows(t, pool, "A"), stateRows(t, pool, "B"), stateRows(t, pool, "C")}; got != [3]int{0, 0, 1} {
		t.Errorf("state rows of A, B, C after deleting A and B = %v, want [0 0 1]", got)
	}

	// Tracked again, A starts over: never attempted, due first.
	track(t, pool, "A")
	if n := stateRows(t, pool, "A"); n != 0 {
		t.Errorf("A tracked again has %d state rows, want 0", n)
	}

	if _, err := pool.Exec(ctx, `TRUNCATE devices`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM device_sync_state`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d state rows after TRUNCATE devices, want 0", left)
	}
}

// deleteWhileBlocked deletes device id in a transaction of its own, runs
// write (a batch or a listing page that includes id) while that transaction
// holds the row, waits until write is blocked on a lock, then commits the
// delete and returns what write returned.
func deleteWhileBlocked[T any](t *testing.T, pool *pgxpool.Pool, id string, write func() (T, error)) T {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if tag, err := tx.Exec(ctx, `DELETE FROM devices WHERE device_id = $1`, id); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("delete %s: %v (%d rows)", id, err, tag.RowsAffected())
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := write()
		done <- result{v, err}
	}()
	// The write must wait for the delete: a write that finished first
	// would test nothing.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the write finished (%v, %v) without waiting for the delete of %s", r.v, r.err, id)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write did not wait for the delete of %s within 20 s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("write: %v", r.err)
	}
	return r.v
}

// A device deleted while a batch or a listing page that includes it is
// being written gets no state row: what was deleted stays deleted, and is
// reported missing, not stored.
func TestDeleteDuringWriteLeavesNoStateRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("first result", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.DB(t)
		st := store.New(pool)
		track(t, pool, "A", "B")
		run := startRun(t, st)
		got := deleteWhileBlocked(t, pool, "A", func() (store.BatchCounts, error) {
			return st.ApplyResults(ctx, run.ID, []store.Result{
				ok(phone("A", "10.0.0.1", "000000000001", "")),
				ok(phone("B", "10.0.0.2", "000000000002", "")),
			})
		})
		if got.OK != 1 || got.Missing != 1 {
			t.Errorf("counts = %+v, want 1 ok and 1 missing", got)
		}
		if n := stateRows(t, pool, "A"); n != 0 {
			t.Errorf("deleted A has %d state rows, want 0", n)
		}
		if n := stateRows(t, pool, "B"); n != 1 {
			t.Errorf("B has %d state rows, want 1", n)
		}
		for _, c := range readChanges(t, pool) {
			if c.DeviceID == "A" {
				t.Errorf("history row for deleted A: %+v", c)
			}
		}
	})

	t.Run("first result failed", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.DB(t)
		st := store.New(pool)
		track(t, pool, "A")
		run := startRun(t, st)
		got := deleteWhileBlocked(t, pool, "A", func() (store.BatchCounts, error) {
			return st.ApplyResults(ctx, run.ID, []store.Result{{DeviceID: "A", Outcome: store.OutcomeError, Error: "HTTP 500"}})
		})
		if got != (store.BatchCounts{Missing: 1}) {
			t.Errorf("counts = %+v, want 1 missing", got)
		}
		if n := orphanStateRows(t, pool); n != 0 {
			t.Errorf("%d state rows without a device", n)
		}
	})

	t.Run("unchanged result", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.DB(t)
		st := store.New(pool)
		track(t, pool, "A")
		a := phone("A", "10.0.0.1", "000000000001", "")
		apply(t, st, startRun(t, st), ok(a))
		run := startRun(t, st)
		got := deleteWhileBlocked(t, pool, "A", func() (store.BatchCounts, error) {
			return st.ApplyResults(ctx, run.ID, []store.Result{ok(a)})
		})
		if got != (store.BatchCounts{Missing: 1}) {
			t.Errorf("counts = %+v, want 1 missing", got)
		}
		if n := orphanStateRows(t, pool); n != 0 {
			t.Errorf("%d state rows without a device", n)
		}
	})

	t.Run("listing again", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.DB(t)
		st := store.New(pool)
		id := base64.RawStdEncoding.EncodeToString([]byte("ciscospark://us/DEVICE/3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a03"))
		key, err := deviceid.KeyOf(id)
		if err != nil {
			t.Fatal(err)
		}
		track(t, pool, id)
		items := []device.Listed{{ID: id, Key: key, ConnectionStatus: "connected"}}
		for range 2 {
			run, err := st.StartRun(ctx, store.All, store.DetectListing)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 1 && stateRows(t, pool, id) == 1 {
				// Listed once already: this page changes nothing of the
				// devices row, and waits on the state row the delete's
				// trigger removed.
				deleteWhileBlocked(t, pool, id, func() (store.ListingCounts, error) {
					return st.ApplyListingPage(ctx, run, "", items)
				})
				break
			}
			if _, err := st.ApplyListingPage(ctx, run, "", items); err != nil {
				t.Fatal(err)
			}
		}
		if n := orphanStateRows(t, pool); n != 0 {
			t.Errorf("%d state rows without a device", n)
		}
	})

	t.Run("first listing", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.DB(t)
		st := store.New(pool)
		ids := map[string]string{}
		var items []device.Listed
		for _, uuid := range []string{"3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a01", "3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a02"} {
			id := base64.RawStdEncoding.EncodeToString([]byte("ciscospark://us/DEVICE/" + uuid))
			key, err := deviceid.KeyOf(id)
			if err != nil {
				t.Fatal(err)
			}
			ids[uuid] = id
			track(t, pool, id)
			items = append(items, device.Listed{ID: id, Key: key, ConnectionStatus: "connected"})
		}
		gone, kept := ids["3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a01"], ids["3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a02"]
		run, err := st.StartRun(ctx, store.All, store.DetectListing)
		if err != nil {
			t.Fatal(err)
		}
		deleteWhileBlocked(t, pool, gone, func() (store.ListingCounts, error) {
			return st.ApplyListingPage(ctx, run, "", items)
		})
		if n := stateRows(t, pool, gone); n != 0 {
			t.Errorf("deleted device has %d state rows, want 0", n)
		}
		if n := stateRows(t, pool, kept); n != 1 {
			t.Errorf("listed device has %d state rows, want 1", n)
		}
	})
}
