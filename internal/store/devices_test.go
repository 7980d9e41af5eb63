package store_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

func devID(n string) string {
	return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/aaaaaaaa-0000-4000-8000-00000000000" + n))
}

type trackedRow struct {
	DeviceID string
	OrgID    *string
}

func trackedRows(t *testing.T, pool *pgxpool.Pool) []trackedRow {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `SELECT device_id, org_id FROM devices ORDER BY device_id COLLATE "C"`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trackedRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func strp(s string) *string { return &s }

func TestTrackDevices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	in := []store.NewDevice{{ID: devID("1")}, {ID: devID("2"), OrgID: "ORG"}}
	wantAdded := []store.TrackChange{
		{DeviceID: devID("1"), Added: true},
		{DeviceID: devID("2"), Added: true, NewOrgID: strp("ORG")},
	}

	got, err := st.TrackDevices(ctx, in, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAdded, got); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if rows := trackedRows(t, pool); len(rows) != 0 {
		t.Fatalf("a dry run stored %v", rows)
	}

	if got, err = st.TrackDevices(ctx, in, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAdded, got); diff != "" {
		t.Errorf("add (-want +got):\n%s", diff)
	}
	// The same input again changes nothing.
	if got, err = st.TrackDevices(ctx, in, false); err != nil || len(got) != 0 {
		t.Errorf("re-add = %v, %v; want no change", got, err)
	}
	// An org_id given for a tracked device sets it; none given keeps it.
	got, err = st.TrackDevices(ctx, []store.NewDevice{{ID: devID("1"), OrgID: "NEW"}, {ID: devID("2")}, {ID: devID("3")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TrackChange{{DeviceID: devID("1"), NewOrgID: strp("NEW")}, {DeviceID: devID("3"), Added: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("org change (-want +got):\n%s", diff)
	}
	wantRows := []trackedRow{{devID("1"), strp("NEW")}, {devID("2"), strp("ORG")}, {devID("3"), nil}}
	if diff := cmp.Diff(wantRows, trackedRows(t, pool)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
}

func TestUntrackKeepsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	if _, err := st.TrackDevices(ctx, []store.NewDevice{{ID: devID("1")}, {ID: devID("2")}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO device_changes (device_id, field, new_value) VALUES ($1, 'ip', '10.0.0.1')`, devID("1")); err != nil {
		t.Fatal(err)
	}
	got, err := st.UntrackDevices(ctx, []string{devID("1"), devID("9")}, true)
	if err != nil || !cmp.Equal([]string{devID("1")}, got) || len(trackedRows(t, pool)) != 2 {
		t.Fatalf("dry-run remove = %v, %v; tracked %v", got, err, trackedRows(t, pool))
	}
	if got, err = st.UntrackDevices(ctx, []string{devID("1"), devID("9")}, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{devID("1")}, got); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]trackedRow{{DeviceID: devID("2")}}, trackedRows(t, pool)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM device_changes WHERE device_id = $1`, devID("1")).Scan(&n); err != nil || n != 1 {
		t.Errorf("history of the removed device: %d rows (%v), want 1", n, err)
	}
}

func TestListDevicesByStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id, sync_status, model, ip, mac, last_error) VALUES
		('A', 'ok', 'DMS Cisco 8811', '10.0.0.1', '11:22:33:44:55:66', NULL),
		('B', 'error', NULL, NULL, NULL, 'HTTP 500'),
		('C', 'pending', NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	got, err := st.ListDevices(ctx, store.DeviceFilter{Statuses: []string{"error", "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TrackedDevice{
		{DeviceID: "A", SyncStatus: "ok", Model: strp("DMS Cisco 8811"), IP: strp("10.0.0.1"), MAC: strp("11:22:33:44:55:66")},
		{DeviceID: "B", SyncStatus: "error", LastError: strp("HTTP 500")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if all, err := st.ListDevices(ctx, store.DeviceFilter{}); err != nil || len(all) != 3 {
		t.Errorf("no filter: %d devices (%v), want 3", len(all), err)
	}
}

func TestHistoryIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t) // connected as the schema's owner: only the trigger stands in the way
	if _, err := pool.Exec(ctx, `INSERT INTO device_changes (device_id, field, new_value) VALUES ('A', 'ip', '10.0.0.1')`); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE device_changes SET new_value = '10.6.6.6'`,
		`DELETE FROM device_changes`,
		`TRUNCATE device_changes`,
	} {
		_, err := pool.Exec(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger to refuse it", sql, err)
		}
	}
	// The setting lets DELETE through in its own transaction only, never UPDATE.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL wxc_sync.allow_history_prune = 'on'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE device_changes SET new_value = '10.6.6.6'`); err == nil {
		t.Errorf("UPDATE went through with the prune setting")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM device_changes WHERE new_value = '10.0.0.1'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("history now has %d original rows (%v), want 1", n, err)
	}
}

func TestPruneHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	if _, err := pool.Exec(ctx, `INSERT INTO device_changes (device_id, field, new_value, changed_at) VALUES
		('A', 'ip', '10.0.0.1', now() - interval '500 days'),
		('A', 'ip', '10.0.0.2', now() - interval '401 days'),
		('A', 'ip', '10.0.0.3', now() - interval '399 days'),
		('B', 'mac', '11:22:33:44:55:66', now() - interval '1 day')`); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	before := time.Now()
	dry, err := st.PruneHistory(ctx, 400, true)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Rows != 2 {
		t.Errorf("dry run counts %d rows, want 2", dry.Rows)
	}
	got, err := st.PruneHistory(ctx, 400, false)
	if err != nil {
		t.Fatal(err)
	}
	wantCutoff := before.AddDate(0, 0, -400)
	if got.Rows != 2 || got.Cutoff.Sub(wantCutoff).Abs() > time.Minute {
		t.Errorf("prune = %+v, want 2 rows before about %v", got, wantCutoff)
	}
	rows, _ := pool.Query(ctx, `SELECT new_value FROM device_changes ORDER BY changed_at`)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.0.0.3", "11:22:33:44:55:66"}, left); diff != "" {
		t.Errorf("history left (-want +got):\n%s", diff)
	}
	type pruneRow struct {
		PrunedBy  string
		OlderThan string
		Rows      int64
	}
	rows, _ = pool.Query(ctx, `SELECT pruned_by, older_than::text, rows_deleted FROM history_prunes`)
	prunes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pruneRow])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pruneRow{{"postgres", "400 days", 2}}, prunes, cmpopts.IgnoreFields(pruneRow{}, "PrunedBy")); diff != "" {
		t.Errorf("history_prunes (-want +got):\n%s", diff)
	}
	// The setting does not outlive the prune's transaction.
	if _, err := pool.Exec(ctx, `DELETE FROM device_changes`); err == nil {
		t.Errorf("a DELETE after the prune went through")
	}
}
