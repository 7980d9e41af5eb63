package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// TestQueueAllMatchesTheReasonedList holds the work list of a run without
// the listing (QueueAllDevices) to what QueueDueDevices writes with
// use_listing false: the same devices, in the same order, with the same
// reason, and the same counters on the run, for the whole fleet and for
// shards. The fleet mixes devices never attempted, attempted at shared and
// distinct times, gone, in orgs and not, with keys whose byte order is not
// their order in a linguistic collation.
func TestQueueAllMatchesTheReasonedList(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO devices (device_id, org_id, sync_status)
		SELECT CASE WHEN i % 2 = 0 THEN 'dev-' ELSE 'Dev-' END || i,
		       CASE WHEN i % 3 = 0 THEN 'ORG' || (i % 4) END,
		       CASE WHEN i % 17 = 0 THEN 'not_found' WHEN i % 5 = 0 THEN 'pending' ELSE 'ok' END
		FROM generate_series(1, 300) AS i;
		-- Every fifth device never attempted; the others at one of seven
		-- times, so that ties are broken by the key.
		INSERT INTO device_sync_state (device_id, last_attempt_at, last_synced_at, last_run_id)
		SELECT d.device_id,
		       timestamptz '2026-11-01 00:00Z' + (i % 7) * interval '1 hour',
		       CASE WHEN d.sync_status = 'ok' THEN timestamptz '2026-11-01 00:00Z' + (i % 7) * interval '1 hour' END,
		       0
		FROM devices d, LATERAL (SELECT substring(d.device_id FROM 5)::int AS i) x
		WHERE i % 5 <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	for _, scope := range []store.Scope{store.All, {Index: 0, Count: 3}, {Index: 2, Count: 3}} {
		t.Run(scope.String(), func(t *testing.T) {
			all, err := st.StartRun(ctx, scope, store.DetectNone)
			if err != nil {
				t.Fatal(err)
			}
			counts, err := st.QueueDue(ctx, &all, store.DueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			reasoned, err := st.StartRun(ctx, scope, store.DetectNone)
			if err != nil {
				t.Fatal(err)
			}
			var rows []dbsqlc.QueueDueDevicesRow
			err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				rows, err = dbsqlc.New(tx).QueueDueDevices(ctx, dbsqlc.QueueDueDevicesParams{
					RunID: reasoned.ID, ShardCount: int32(scope.Count), ShardIndex: int32(scope.Index),
					UseListing: false, CompleteOrgs: []string{}, DistrustedOrgs: []string{},
					MaxAgeSeconds: 3600, RefreshShare: 0.5, SampleFraction: 0.1, SampleMin: 3,
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Reason != "all" || int(rows[0].Devices) != counts.Due ||
				counts.Confirmed != 0 || len(counts.ByReason) != 1 || all.Total != counts.Due {
				t.Errorf("QueueDue counted %+v (run total %d), QueueDueDevices %+v", counts, all.Total, rows)
			}
			if counts.Due < 90 {
				t.Fatalf("only %d devices due in scope %s: the fleet is not what the test means", counts.Due, scope)
			}
			got, want := queueOf(t, pool, all.ID), queueOf(t, pool, reasoned.ID)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("work list (-QueueDueDevices +QueueAllDevices):\n%s", diff)
			}
			if got, want := runCounters(t, pool, all.ID), runCounters(t, pool, reasoned.ID); got != want {
				t.Errorf("run counters %s, want %s", got, want)
			}
		})
	}
}

// queueOf is a run's work list in order, a line a device.
func queueOf(t *testing.T, pool *pgxpool.Pool, runID int64) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT format('%s %s %s %s', pos, device_id, coalesce(org_id, '-'), reason) FROM run_queue WHERE run_id = $1 ORDER BY pos`, runID)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func runCounters(t *testing.T, pool *pgxpool.Pool, runID int64) string {
	t.Helper()
	var total, confirmed, refreshed, listed int
	err := pool.QueryRow(context.Background(),
		`SELECT devices_total, devices_confirmed, devices_refreshed, devices_listed FROM sync_runs WHERE run_id = $1`, runID).
		Scan(&total, &confirmed, &refreshed, &listed)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("total %d, confirmed %d, refreshed %d, listed %d", total, confirmed, refreshed, listed)
}
