package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// row is a devices row in comparable form.
type row struct {
	DeviceID, SyncStatus                              string
	Manufacturer, ManagedBy, Model                    *string
	IP, MAC, ActivationState                          *string
	Tags                                              []string
	UpgradeChannelEnabled                             *bool
	OwnerSIPUserName, OwnerLinePort, Proxy            *string
	Details                                           *string
	LastError                                         *string
	ConsecutiveFailures                               int
	FirstSynced, LastSynced, LastAttempt, LastChanged *time.Time
}

func readRow(t *testing.T, pool *pgxpool.Pool, id string) row {
	t.Helper()
	var r row
	err := pool.QueryRow(context.Background(), `
		SELECT d.device_id, d.sync_status, d.manufacturer, d.managed_by, d.model, host(d.ip), d.mac::text,
		       d.activation_state, d.tags, d.upgrade_channel_enabled, d.owner_sip_user_name,
		       d.owner_line_port, d.outbound_proxy, d.details::text, d.last_error,
		       coalesce(s.consecutive_failures, 0), d.first_synced_at, s.last_synced_at,
		       s.last_attempt_at, d.last_changed_at
		FROM devices d LEFT JOIN device_sync_state s USING (device_id)
		WHERE d.device_id = $1`, id).Scan(
		&r.DeviceID, &r.SyncStatus, &r.Manufacturer, &r.ManagedBy, &r.Model, &r.IP, &r.MAC,
		&r.ActivationState, &r.Tags, &r.UpgradeChannelEnabled, &r.OwnerSIPUserName,
		&r.OwnerLinePort, &r.Proxy, &r.Details, &r.LastError, &r.ConsecutiveFailures,
		&r.FirstSynced, &r.LastSynced, &r.LastAttempt, &r.LastChanged)
	if err != nil {
		t.Fatalf("read device %s: %v", id, err)
	}
	return r
}

// change is a device_changes row without its generated key and time.
type change struct {
	DeviceID, Field    string
	RunID              int64
	OldValue, NewValue *string
}

func readChanges(t *testing.T, pool *pgxpool.Pool) []change {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT device_id, field, run_id, old_value, new_value FROM device_changes ORDER BY change_id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[change])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func s(v string) *string { return &v }
func b(v bool) *bool     { return &v }

func track(t *testing.T, pool *pgxpool.Pool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := pool.Exec(context.Background(), `INSERT INTO devices (device_id) VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}
}

func phone(id, ip, mac string, state device.ActivationState) device.Device {
	d := device.Device{
		ID: id, Manufacturer: "CISCO", ManagedBy: "CUSTOMER", Model: "DMS Cisco 8811",
		ActivationState: state, Tags: []string{"lobby", "floor 2"}, UpgradeChannelEnabled: b(true),
		OwnerSIPUserName: "392829", OwnerLinePort: "line@example.webex.com", OutboundProxy: "proxy.example.com",
	}
	if ip != "" {
		d.IP = netip.MustParseAddr(ip)
	}
	if mac != "" {
		d.MAC, _ = device.ParseMAC(mac)
	}
	raw := map[string]any{"id": id, "model": d.Model, "ip": ip, "mac": mac, "activationState": string(state), "upgradeChannelEnabled": "true"}
	d.Raw, _ = json.Marshal(raw)
	return d
}

func ok(d device.Device) store.Result {
	return store.Result{DeviceID: d.ID, Outcome: store.OutcomeOK, Device: d}
}

func startRun(t *testing.T, st *store.Store) store.Run {
	t.Helper()
	r, err := st.StartFullRun(context.Background(), store.All)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func apply(t *testing.T, st *store.Store, run store.Run, results ...store.Result) store.BatchCounts {
	t.Helper()
	c, err := st.ApplyResults(context.Background(), run.ID, results)
	if err != nil {
		t.Fatalf("ApplyResults: %v", err)
	}
	return c
}

func TestFirstSyncStoresDetailsAndInitialHistory(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "A", "B")
	run := startRun(t, st)
	if run.Total != 2 {
		t.Errorf("run total = %d, want 2", run.Total)
	}
	a := phone("A", "100.110.120.130", "11223344AAFF", device.ActivationActivated)
	bdev := phone("B", "", "", device.ActivationAbsent) // no IP, MAC or state: no initial rows
	bdev.Tags, bdev.UpgradeChannelEnabled, bdev.OutboundProxy = nil, nil, ""
	got := apply(t, st, run, ok(a), ok(bdev))
	if want := (store.BatchCounts{OK: 2, Changed: 1, Changes: 3}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}

	ra := readRow(t, pool, "A")
	if ra.FirstSynced == nil || ra.LastSynced == nil || ra.LastAttempt == nil || ra.LastChanged == nil {
		t.Fatalf("timestamps not all set: %+v", ra)
	}
	wantA := row{
		DeviceID: "A", SyncStatus: "ok", Manufacturer: s("CISCO"), ManagedBy: s("CUSTOMER"), Model: s("DMS Cisco 8811"),
		IP: s("100.110.120.130"), MAC: s("11:22:33:44:aa:ff"), ActivationState: s("activated"),
		Tags: []string{"lobby", "floor 2"}, UpgradeChannelEnabled: b(true), OwnerSIPUserName: s("392829"),
		OwnerLinePort: s("line@example.webex.com"), Proxy: s("proxy.example.com"),
		Details: ra.Details, FirstSynced: ra.FirstSynced, LastSynced: ra.LastSynced, LastAttempt: ra.LastAttempt, LastChanged: ra.LastChanged,
	}
	if diff := cmp.Diff(wantA, ra); diff != "" {
		t.Errorf("device A (-want +got):\n%s", diff)
	}
	var detailsEqual bool
	if err := pool.QueryRow(context.Background(), `SELECT details = $1::jsonb FROM devices WHERE device_id = 'A'`, string(a.Raw)).Scan(&detailsEqual); err != nil || !detailsEqual {
		t.Errorf("details do not hold the payload as received (err %v)", err)
	}
	rb := readRow(t, pool, "B")
	if rb.IP != nil || rb.MAC != nil || rb.ActivationState != nil || rb.Tags != nil || rb.UpgradeChannelEnabled != nil || rb.Proxy != nil {
		t.Errorf("device B has values it was not sent: %+v", rb)
	}

	wantChanges := []change{
		{DeviceID: "A", Field: "activation_state", RunID: run.ID, NewValue: s("activated")},
		{DeviceID: "A", Field: "ip", RunID: run.ID, NewValue: s("100.110.120.130")},
		{DeviceID: "A", Field: "mac", RunID: run.ID, NewValue: s("11:22:33:44:aa:ff")},
	}
	if diff := cmp.Diff(wantChanges, readChanges(t, pool)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	assertRunCountsMatchTables(t, pool, run.ID)
}

func TestUnchangedResyncWritesNothingAndOneChangeWritesOneRow(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "A", "B", "C")
	devs := []device.Device{
		phone("A", "10.0.0.1", "000000000001", device.ActivationActivated),
		phone("B", "10.0.0.2", "000000000002", ""),
		phone("C", "10.0.0.3", "000000000003", device.ActivationActivating),
	}
	results := func() []store.Result {
		var rs []store.Result
		for _, d := range devs {
			rs = append(rs, ok(d))
		}
		return rs
	}
	apply(t, st, startRun(t, st), results()...)
	before := map[string]row{}
	for _, d := range devs {
		before[d.ID] = readRow(t, pool, d.ID)
	}
	nChanges := len(readChanges(t, pool))

	second := startRun(t, st)
	if got := apply(t, st, second, results()...); got != (store.BatchCounts{OK: 3}) {
		t.Errorf("unchanged resync counts = %+v, want 3 ok and no changes", got)
	}
	if n := len(readChanges(t, pool)); n != nChanges {
		t.Errorf("unchanged resync wrote %d history rows", n-nChanges)
	}
	for _, d := range devs {
		after := readRow(t, pool, d.ID)
		if !after.LastAttempt.After(*before[d.ID].LastAttempt) || !after.LastSynced.After(*before[d.ID].LastSynced) {
			t.Errorf("%s: sync timestamps did not move", d.ID)
		}
		// Everything but the sync timestamps stays as it was.
		after.LastAttempt, after.LastSynced = before[d.ID].LastAttempt, before[d.ID].LastSynced
		if diff := cmp.Diff(before[d.ID], after); diff != "" {
			t.Errorf("%s changed on an unchanged resync (-before +after):\n%s", d.ID, diff)
		}
	}

	devs[1] = phone("B", "10.9.9.9", "000000000002", "")
	third := startRun(t, st)
	if got := apply(t, st, third, results()...); got != (store.BatchCounts{OK: 3, Changed: 1, Changes: 1}) {
		t.Errorf("one-IP-change counts = %+v", got)
	}
	all := readChanges(t, pool)
	if diff := cmp.Diff([]change{{DeviceID: "B", Field: "ip", RunID: third.ID, OldValue: s("10.0.0.2"), NewValue: s("10.9.9.9")}}, all[nChanges:]); diff != "" {
		t.Errorf("history of the IP change (-want +got):\n%s", diff)
	}
	rb := readRow(t, pool, "B")
	if !rb.LastChanged.After(*before["B"].LastChanged) {
		t.Errorf("last_changed_at of B did not move on its change")
	}
	if ra := readRow(t, pool, "A"); !ra.LastChanged.Equal(*before["A"].LastChanged) {
		t.Errorf("last_changed_at of A moved without a change")
	}
	assertRunCountsMatchTables(t, pool, third.ID)
}

func TestFieldsBecomingAbsentAndStateTransitions(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "A")
	apply(t, st, startRun(t, st), ok(phone("A", "10.0.0.1", "000000000001", device.ActivationActivating)))
	run := startRun(t, st)
	apply(t, st, run, ok(phone("A", "", "AABBCCDDEEFF", device.ActivationActivated)))
	got := readChanges(t, pool)[3:]
	want := []change{
		{DeviceID: "A", Field: "activation_state", RunID: run.ID, OldValue: s("activating"), NewValue: s("activated")},
		{DeviceID: "A", Field: "ip", RunID: run.ID, OldValue: s("10.0.0.1")},
		{DeviceID: "A", Field: "mac", RunID: run.ID, OldValue: s("00:00:00:00:00:01"), NewValue: s("aa:bb:cc:dd:ee:ff")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if r := readRow(t, pool, "A"); r.IP != nil {
		t.Errorf("ip = %v, want NULL", *r.IP)
	}
}

func TestFailureOutcomesKeepDetailsAndHistory(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "GONE", "HIDDEN", "BROKEN", "NEVER")
	first := startRun(t, st)
	apply(t, st, first,
		ok(phone("GONE", "10.0.0.1", "000000000001", "")),
		ok(phone("HIDDEN", "10.0.0.2", "000000000002", "")),
		ok(phone("BROKEN", "10.0.0.3", "000000000003", "")))
	before := readRow(t, pool, "GONE")
	nChanges := len(readChanges(t, pool))

	run := startRun(t, st)
	got := apply(t, st, run,
		store.Result{DeviceID: "GONE", Outcome: store.OutcomeNotFound, Error: "not found (HTTP 404)"},
		store.Result{DeviceID: "HIDDEN", Outcome: store.OutcomeForbidden, Error: "forbidden (HTTP 403)"},
		store.Result{DeviceID: "BROKEN", Outcome: store.OutcomeError, Error: "bad payload: truncated"},
		store.Result{DeviceID: "NEVER", Outcome: store.OutcomeError, Error: "transient (HTTP 503)"})
	if want := (store.BatchCounts{NotFound: 1, Failed: 3}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		id, status, lastErr string
		failures            int
	}{
		{"GONE", "not_found", "not found (HTTP 404)", 0},
		{"HIDDEN", "forbidden", "forbidden (HTTP 403)", 1},
		{"BROKEN", "error", "bad payload: truncated", 1},
		{"NEVER", "error", "transient (HTTP 503)", 1},
	} {
		r := readRow(t, pool, tt.id)
		if r.SyncStatus != tt.status || r.LastError == nil || *r.LastError != tt.lastErr || r.ConsecutiveFailures != tt.failures {
			t.Errorf("%s: status %q, last_error %v, failures %d; want %q, %q, %d", tt.id, r.SyncStatus, r.LastError, r.ConsecutiveFailures, tt.status, tt.lastErr, tt.failures)
		}
	}
	gone := readRow(t, pool, "GONE")
	if diff := cmp.Diff(before.Details, gone.Details); diff != "" || *gone.IP != "10.0.0.1" || !gone.LastSynced.Equal(*before.LastSynced) {
		t.Errorf("a not-found device lost its last details or last_synced_at")
	}
	if n := len(readChanges(t, pool)); n != nChanges {
		t.Errorf("failures wrote %d history rows", n-nChanges)
	}
	// A later success clears the error and the failure streak.
	apply(t, st, startRun(t, st), ok(phone("HIDDEN", "10.0.0.2", "000000000002", "")))
	if r := readRow(t, pool, "HIDDEN"); r.SyncStatus != "ok" || r.LastError != nil || r.ConsecutiveFailures != 0 {
		t.Errorf("after success: %+v", r)
	}
	assertRunCountsMatchTables(t, pool, run.ID)
}

func TestBadValueFailsOnlyItsDevice(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	var results []store.Result
	for i := range 9 {
		id := fmt.Sprintf("D%d", i)
		track(t, pool, id)
		results = append(results, ok(phone(id, fmt.Sprintf("10.0.0.%d", i+1), fmt.Sprintf("0000000000%02d", i), "")))
	}
	results[6].Device.Raw = []byte(`{"id": "D6", broken`) // PostgreSQL rejects it as jsonb
	run := startRun(t, st)
	got := apply(t, st, run, results...)
	if got.OK != 8 || got.Failed != 1 {
		t.Errorf("counts = %+v, want 8 ok and 1 failed", got)
	}
	r := readRow(t, pool, "D6")
	if r.SyncStatus != "error" || r.LastError == nil || !strings.Contains(*r.LastError, "could not be stored") {
		t.Errorf("D6 = %s / %v, want an error naming the storage failure", r.SyncStatus, r.LastError)
	}
	for _, c := range readChanges(t, pool) {
		if c.DeviceID == "D6" {
			t.Errorf("history row for the device that failed to store: %+v", c)
		}
	}
	assertRunCountsMatchTables(t, pool, run.ID)
}

func TestDueDevicesStalestFirstInPages(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	// Two never attempted, three attempted at known times.
	_, err := pool.Exec(ctx, `
		INSERT INTO devices (device_id, org_id) VALUES
		('new-b', NULL), ('new-a', 'ORG1'), ('old-1', NULL), ('old-2', NULL), ('old-3', NULL);
		INSERT INTO device_sync_state (device_id, last_attempt_at, last_run_id) VALUES
		('old-3', now() - interval '1 day', 0),
		('old-1', now() - interval '3 days', 0),
		('old-2', now() - interval '2 days', 0)`)
	if err != nil {
		t.Fatal(err)
	}
	run := startRun(t, st)
	if run.Total != 5 {
		t.Errorf("run.Total = %d, want the 5 devices of its work list", run.Total)
	}
	// Tracked after the run started: not in its work list.
	if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id) VALUES ('fresh')`); err != nil {
		t.Fatal(err)
	}
	var got []store.DueDevice
	err = st.DueDevices(ctx, run, 2, func(d store.DueDevice) error {
		got = append(got, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DueDevice{{ID: "new-a", OrgID: "ORG1"}, {ID: "new-b"}, {ID: "old-1"}, {ID: "old-2"}, {ID: "old-3"}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(store.DueDevice{})); diff != "" {
		t.Errorf("due devices (-want +got):\n%s", diff)
	}

	// The work list goes when the run ends.
	if _, err := st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM run_queue WHERE run_id = $1`, run.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d work-list rows left after the run finished", left)
	}
}

func TestHistorySurvivesDeviceDeletion(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	track(t, pool, "A")
	apply(t, st, startRun(t, st), ok(phone("A", "10.0.0.1", "000000000001", "")))
	if _, err := pool.Exec(context.Background(), `DELETE FROM devices WHERE device_id = 'A'`); err != nil {
		t.Fatal(err)
	}
	if n := len(readChanges(t, pool)); n != 2 {
		t.Errorf("history rows after deleting the device = %d, want 2", n)
	}
	// A result for a deleted device is counted as missing, not stored.
	got := apply(t, st, startRun(t, st), ok(phone("A", "10.0.0.2", "000000000001", "")))
	if got != (store.BatchCounts{Missing: 1}) {
		t.Errorf("counts = %+v, want one missing", got)
	}
}

func TestOpenReportsBadURLWithoutPassword(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"postgres://user:hunter2@127.0.0.1:notaport/db",
		"postgres://user:hunter2@127.0.0.1:1/db?sslmode=bogus",
		"host=127.0.0.1 port=1 user=u password=hunter2 dbname=x connect_timeout=2",
	} {
		_, err := store.Open(context.Background(), u, store.OpenOptions{ConnectWithin: 500 * time.Millisecond})
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

// assertRunCountsMatchTables checks that the counters of a run equal what
// the tables hold for it.
func assertRunCountsMatchTables(t *testing.T, pool *pgxpool.Pool, runID int64) {
	t.Helper()
	var counters, actual [2]int
	err := pool.QueryRow(context.Background(), `
		SELECT r.devices_changed, r.changes_recorded,
		       (SELECT count(DISTINCT device_id) FROM device_changes c WHERE c.run_id = r.run_id),
		       (SELECT count(*) FROM device_changes c WHERE c.run_id = r.run_id)
		FROM sync_runs r WHERE run_id = $1`, runID).Scan(&counters[0], &counters[1], &actual[0], &actual[1])
	if err != nil {
		t.Fatal(err)
	}
	if counters != actual {
		t.Errorf("run %d counters (changed, changes) = %v, tables hold %v", runID, counters, actual)
	}
}
