package syncrun_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// deviceRow is a devices row as compared with the simulator's truth.
type deviceRow struct {
	DeviceID, SyncStatus                   string
	Manufacturer, ManagedBy, Model         *string
	IP, MAC, ActivationState               *string
	Tags                                   []string
	UpgradeChannelEnabled                  *bool
	OwnerSIPUserName, OwnerLinePort, Proxy *string
	LastError                              *string
}

func readRows(t *testing.T, pool *pgxpool.Pool) map[string]deviceRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT device_id, sync_status, manufacturer, managed_by, model, host(ip), mac::text,
		       activation_state, tags, upgrade_channel_enabled, owner_sip_user_name,
		       owner_line_port, outbound_proxy, last_error
		FROM devices`)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[deviceRow])
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]deviceRow, len(list))
	for _, r := range list {
		m[r.DeviceID] = r
	}
	return m
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// colonMAC spells a served MAC (11223344AAFF) as PostgreSQL prints macaddr.
func colonMAC(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToLower(s)
	var parts []string
	for i := 0; i+2 <= len(s); i += 2 {
		parts = append(parts, s[i:i+2])
	}
	return strings.Join(parts, ":")
}

// want is the row the job must store for a device the simulator serves.
func want(d webexsim.Device) deviceRow {
	up := d.UpgradeChannelEnabled
	return deviceRow{
		DeviceID: d.ID, SyncStatus: "ok", Manufacturer: str(d.Manufacturer), ManagedBy: str(d.ManagedBy),
		Model: str(d.Model), IP: str(d.IP), MAC: str(colonMAC(d.MAC)), ActivationState: str(d.ActivationState),
		Tags: d.Tags, UpgradeChannelEnabled: &up, OwnerSIPUserName: str(d.OwnerSIPUserName),
		OwnerLinePort: str(d.OwnerLinePort), Proxy: str(d.OutboundProxy),
	}
}

type change struct {
	DeviceID, Field    string
	OldValue, NewValue *string
}

func readChanges(t *testing.T, pool *pgxpool.Pool, runID int64) []change {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT device_id, field, old_value, new_value FROM device_changes
		WHERE run_id = $1 ORDER BY device_id, field`, runID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[change])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortChanges(cs []change) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].DeviceID != cs[j].DeviceID {
			return cs[i].DeviceID < cs[j].DeviceID
		}
		return cs[i].Field < cs[j].Field
	})
}

type runRow struct {
	Status                                                string
	Total, OK, Changed, NotFound, Failed, ChangesRecorded int
	Error                                                 *string
	Finished                                              bool
}

func readRun(t *testing.T, pool *pgxpool.Pool, runID int64) runRow {
	t.Helper()
	var r runRow
	err := pool.QueryRow(context.Background(), `
		SELECT status, devices_total, devices_ok, devices_changed, devices_not_found, devices_failed,
		       changes_recorded, error, finished_at IS NOT NULL
		FROM sync_runs WHERE run_id = $1`, runID).Scan(&r.Status, &r.Total, &r.OK, &r.Changed, &r.NotFound,
		&r.Failed, &r.ChangesRecorded, &r.Error, &r.Finished)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var equateEmpty = cmpopts.EquateEmpty()

func TestFirstSyncMatchesSimulatorTruth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 400})
	sum := e.run(t, context.Background(), syncrun.Config{})
	if sum.Status != store.RunSucceeded || sum.Err != nil {
		t.Fatalf("status %s, err %v", sum.Status, sum.Err)
	}

	rows := readRows(t, e.pool)
	var wantChanges []change
	for _, d := range e.sim.Devices() {
		if diff := cmp.Diff(want(d), rows[d.ID], equateEmpty); diff != "" {
			t.Errorf("device %s (-truth +stored):\n%s", d.ID, diff)
		}
		for _, c := range []change{
			{d.ID, "activation_state", nil, str(d.ActivationState)},
			{d.ID, "ip", nil, str(d.IP)},
			{d.ID, "mac", nil, str(colonMAC(d.MAC))},
		} {
			if c.NewValue != nil {
				wantChanges = append(wantChanges, c)
			}
		}
	}
	sortChanges(wantChanges)
	if diff := cmp.Diff(wantChanges, readChanges(t, e.pool, sum.RunID)); diff != "" {
		t.Errorf("initial history (-want +got):\n%s", diff)
	}
	got := readRun(t, e.pool, sum.RunID)
	wantRun := runRow{Status: "succeeded", Total: 400, OK: 400, Changed: sum.Counts.Changed,
		ChangesRecorded: len(wantChanges), Finished: true}
	if diff := cmp.Diff(wantRun, got); diff != "" {
		t.Errorf("sync_runs row (-want +got):\n%s", diff)
	}
	if sum.Counts.Changes != len(wantChanges) || sum.Counts.Skipped != 0 {
		t.Errorf("summary %+v, want %d changes and none skipped", sum, len(wantChanges))
	}
}

func TestChurnRecordsExactlyTheChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 500})
	// Every device's details every run: this test is about what a run
	// records (list-guided runs have their own tests).
	all := syncrun.Config{Detect: store.DetectNone}
	first := e.run(t, context.Background(), all)
	if first.Status != store.RunSucceeded {
		t.Fatalf("first run: %s %v", first.Status, first.Err)
	}
	before := readRows(t, e.pool)

	// An unchanged second run writes no history at all.
	unchanged := e.run(t, context.Background(), all)
	if n := len(readChanges(t, e.pool, unchanged.RunID)); n != 0 || unchanged.Counts.Changed != 0 {
		t.Errorf("unchanged run recorded %d history rows", n)
	}

	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 7, IPChange: 0.1, MACChange: 0.05, ActivationChange: 0.1, Remove: 0.03})
	if len(rep.IPChanged) == 0 || len(rep.MACChanged) == 0 || len(rep.ActivationChanged) == 0 || len(rep.Removed) == 0 {
		t.Fatalf("churn changed too little to test: %+v", rep)
	}
	removed := map[string]bool{}
	for _, id := range rep.Removed {
		removed[id] = true
	}
	var wantChanges []change
	touched := map[string]bool{}
	add := func(field string, fcs []webexsim.FieldChange, conv func(string) string) {
		for _, fc := range fcs {
			if removed[fc.ID] {
				continue
			}
			touched[fc.ID] = true
			wantChanges = append(wantChanges, change{fc.ID, field, str(conv(fc.Old)), str(conv(fc.New))})
		}
	}
	same := func(s string) string { return s }
	add("ip", rep.IPChanged, same)
	add("mac", rep.MACChanged, colonMAC)
	add("activation_state", rep.ActivationChanged, same)
	sortChanges(wantChanges)

	second := e.run(t, context.Background(), all)
	if second.Status != store.RunSucceeded {
		t.Fatalf("second run: %s %v", second.Status, second.Err)
	}
	if diff := cmp.Diff(wantChanges, readChanges(t, e.pool, second.RunID)); diff != "" {
		t.Errorf("history after churn (-want +got):\n%s", diff)
	}
	after := readRows(t, e.pool)
	for id, row := range after {
		switch {
		case removed[id]:
			// Its last details stay; only its status says it is gone.
			wantRow := before[id]
			wantRow.SyncStatus = "not_found"
			if row.LastError == nil || !strings.Contains(*row.LastError, "404") {
				t.Errorf("removed %s: last_error %v does not name the 404", id, row.LastError)
			}
			row.LastError = nil
			if diff := cmp.Diff(wantRow, row, equateEmpty); diff != "" {
				t.Errorf("removed device %s (-want +got):\n%s", id, diff)
			}
		case touched[id]:
			d, _ := e.sim.Device(id)
			if diff := cmp.Diff(want(d), row, equateEmpty); diff != "" {
				t.Errorf("changed device %s (-truth +stored):\n%s", id, diff)
			}
		default:
			if diff := cmp.Diff(before[id], row, equateEmpty); diff != "" {
				t.Errorf("untouched device %s changed (-before +after):\n%s", id, diff)
			}
		}
	}
	got := readRun(t, e.pool, second.RunID)
	if got.NotFound != len(rep.Removed) || got.OK != 500-len(rep.Removed) || got.ChangesRecorded != len(wantChanges) || got.Changed != len(touched) {
		t.Errorf("sync_runs row %+v; want %d not found, %d ok, %d changes on %d devices",
			got, len(rep.Removed), 500-len(rep.Removed), len(wantChanges), len(touched))
	}
}

func TestFaultsEndAsPromised(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 60, clientOpts: func(o *fetch.Options) {
		o.RequestTimeout = 300 * time.Millisecond
		o.MaxAttempts = 3
	}})
	ids := e.sim.IDs()
	type expect struct {
		fault     webexsim.Fault
		status    string
		errSubstr string
	}
	plan := map[string]expect{
		ids[0]:  {webexsim.Fault{Kind: webexsim.FaultUnavailable, Times: 2}, "ok", ""},
		ids[1]:  {webexsim.Fault{Kind: webexsim.FaultInternal, Times: 1}, "ok", ""},
		ids[2]:  {webexsim.Fault{Kind: webexsim.FaultLocked, Times: 1, RetryAfter: 200 * time.Millisecond}, "ok", ""},
		ids[3]:  {webexsim.Fault{Kind: webexsim.FaultStall, Times: 1}, "ok", ""},
		ids[4]:  {webexsim.Fault{Kind: webexsim.FaultBadGateway}, "error", "HTTP 502"},
		ids[5]:  {webexsim.Fault{Kind: webexsim.FaultForbidden}, "forbidden", "HTTP 403"},
		ids[6]:  {webexsim.Fault{Kind: webexsim.FaultGone}, "not_found", "HTTP 410"},
		ids[7]:  {webexsim.Fault{Kind: webexsim.FaultTruncated}, "error", "decode device details"},
		ids[8]:  {webexsim.Fault{Kind: webexsim.FaultMalformed}, "error", "decode device details"},
		ids[9]:  {webexsim.Fault{Kind: webexsim.FaultWrongContentType}, "error", "is not JSON"},
		ids[10]: {webexsim.Fault{Kind: webexsim.FaultOversize}, "error", "exceeds 1048576 bytes"},
		ids[11]: {webexsim.Fault{Kind: webexsim.FaultWrongID}, "error", "not the requested one"},
		ids[12]: {webexsim.Fault{Kind: webexsim.FaultStall}, "error", "timed out"},
		ids[13]: {webexsim.Fault{Kind: webexsim.FaultStallAfterHeaders}, "error", "timed out"},
	}
	for id, p := range plan {
		e.sim.SetFault(id, p.fault)
	}
	sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 8})
	if sum.Status != store.RunPartial {
		t.Errorf("status = %s, want partial", sum.Status)
	}
	rows := readRows(t, e.pool)
	for _, d := range e.sim.Devices() {
		row := rows[d.ID]
		p, planted := plan[d.ID]
		if !planted || p.status == "ok" {
			if diff := cmp.Diff(want(d), row, equateEmpty); diff != "" {
				t.Errorf("device %s (fault %v) (-truth +stored):\n%s", d.ID, p.fault.Kind, diff)
			}
			continue
		}
		if row.SyncStatus != p.status || row.LastError == nil || !strings.Contains(*row.LastError, p.errSubstr) {
			t.Errorf("fault %s: status %q, last_error %v; want %q containing %q", p.fault.Kind, row.SyncStatus, row.LastError, p.status, p.errSubstr)
		}
		if row.LastError != nil && !strings.Contains(*row.LastError, "trackingId") && p.fault.Kind != webexsim.FaultStall {
			t.Errorf("fault %s: last_error %q lacks the tracking ID", p.fault.Kind, *row.LastError)
		}
	}
	got := readRun(t, e.pool, sum.RunID)
	if got.OK != 60-10 || got.Failed != 9 || got.NotFound != 1 {
		t.Errorf("run counts %+v, want 50 ok, 9 failed, 1 not found", got)
	}
	// Every failure is logged with the device, the status and the tracking ID.
	logs := e.logs.String()
	for id, p := range plan {
		if p.status == "ok" {
			continue
		}
		found := false
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"device_id":"`+id+`"`) && strings.Contains(line, `"tracking_id"`) && strings.Contains(line, `"http_status"`) &&
				(strings.Contains(line, "device fetch failed") || strings.Contains(line, "not visible") || strings.Contains(line, "no longer exists")) {
				found = true
			}
		}
		if !found {
			t.Errorf("no failure log line with device_id, status and tracking_id for %s (%s)", id, p.fault.Kind)
		}
	}
	if n := e.sim.Stats().ActiveStalls; n != 0 {
		t.Errorf("%d stalled requests still open after the run", n)
	}
}

func TestUnauthorizedStopsTheRunAndKeepsWhatWasFetched(t *testing.T) {
	t.Parallel()
	var sim atomic.Pointer[webexsim.Sim]
	var served atomic.Int64
	e := newEnv(t, envOpts{devices: 300, middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// After 100 requests the token is revoked.
			if served.Add(1) == 100 {
				sim.Load().SetTokens("some-other-token")
			}
			next.ServeHTTP(w, r)
		})
	}})
	sim.Store(e.sim)
	sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 4, BatchSize: 10})
	if sum.Status != store.RunFailed || !errors.Is(sum.Err, syncrun.ErrUnauthorized) {
		t.Fatalf("status %s, err %v; want failed with the token rejected", sum.Status, sum.Err)
	}
	got := readRun(t, e.pool, sum.RunID)
	if got.Status != "failed" || got.Error == nil || !strings.Contains(*got.Error, "Webex rejected the token") {
		t.Errorf("sync_runs row %+v", got)
	}
	if got.OK < 90 || got.OK > 103 || got.Failed != 0 {
		t.Errorf("stored %d ok and %d failed; want the ~99 fetched before the token was revoked, none failed", got.OK, got.Failed)
	}
	var stored int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM devices WHERE sync_status = 'ok'`).Scan(&stored); err != nil || stored != got.OK {
		t.Errorf("devices ok = %d (err %v), run says %d", stored, err, got.OK)
	}
	if n := served.Load(); n > 120 {
		t.Errorf("%d requests sent; the run must stop at once after the 401", n)
	}
}

func TestCancelledRunStoresWhatItHasAndTheNextFinishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 400, clientRate: 400, clientBurst: 10})
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Bool
	sum := e.run(t, ctx, syncrun.Config{Concurrency: 8, BatchSize: 20, OnProgress: func(p syncrun.Progress) {
		if p.Done >= 100 && cancelled.CompareAndSwap(false, true) {
			cancel()
		}
	}})
	cancel()
	if sum.Status != store.RunInterrupted {
		t.Fatalf("status = %s (%v), want interrupted", sum.Status, sum.Err)
	}
	first := readRun(t, e.pool, sum.RunID)
	if first.OK < 100 || first.OK >= 400 || first.OK != sum.Counts.OK || !first.Finished {
		t.Errorf("interrupted run stored %d (summary %d); want between 100 and 399, recorded as finished", first.OK, sum.Counts.OK)
	}
	if sum.Counts.Skipped != 400-first.OK {
		t.Errorf("skipped = %d, want %d", sum.Counts.Skipped, 400-first.OK)
	}
	next := e.run(t, context.Background(), syncrun.Config{Detect: store.DetectNone})
	if next.Status != store.RunSucceeded || next.Total != 400 {
		t.Fatalf("next run: %s, total %d", next.Status, next.Total)
	}
	// The next run fetches everything again, stalest first, but records
	// history only for the devices the interrupted run did not reach.
	var initialRows, devicesWithHistory int
	err := e.pool.QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT device_id) FROM device_changes WHERE old_value IS NULL`).Scan(&initialRows, &devicesWithHistory)
	if err != nil {
		t.Fatal(err)
	}
	var dup int
	if err := e.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM (SELECT device_id, field FROM device_changes GROUP BY 1, 2 HAVING count(*) > 1) x`).Scan(&dup); err != nil || dup != 0 {
		t.Errorf("%d (device, field) pairs have duplicate history (err %v)", dup, err)
	}
	if readRun(t, e.pool, next.RunID).OK != 400 {
		t.Errorf("next run did not sync all 400 devices")
	}
}

func TestServerLimitBelowClientRate(t *testing.T) {
	t.Parallel()
	// The simulator allows 100/s; the client is configured for 200/s.
	e := newEnv(t, envOpts{devices: 300, clientRate: 200, clientBurst: 10, simCfg: func(c *webexsim.Config) {
		c.RateLimit, c.Burst = 100, 10
	}})
	sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 16})
	if sum.Status != store.RunSucceeded || sum.Counts.OK != 300 {
		t.Fatalf("status %s, ok %d; want every device synced", sum.Status, sum.Counts.OK)
	}
	st := e.sim.Stats()
	t.Logf("requests %d, 429s %d, client throttled %d", st.Requests, st.RateLimited, sum.Throttled)
	if st.RateLimited > 10 {
		t.Errorf("server sent %d 429s for 300 devices; the client should back off after the first few", st.RateLimited)
	}
}
