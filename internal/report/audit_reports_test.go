package report_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// auditFixture is a small history with one of each case the audit reports
// must tell apart. Times are relative to now, so the default windows apply.
const auditFixture = `
INSERT INTO sync_runs (status) VALUES ('succeeded');
INSERT INTO devices (device_id, model, sync_status, added_at) VALUES
  ('A', 'DMS Cisco 8811', 'ok',      now() - interval '60 days'),
  ('B', 'DMS Cisco 8851', 'error',   now() - interval '60 days'),
  ('C', 'Yealink T54W',   'pending', now() - interval '9 days'),
  ('D', 'Poly VVX 450',   'pending', now() - interval '1 day');
INSERT INTO device_sync_state (device_id, last_attempt_at, last_synced_at, last_run_id) VALUES
  ('A', now() - interval '1 hour', now() - interval '1 hour',  1),
  ('B', now() - interval '1 hour', now() - interval '10 days', 1);
INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at) VALUES
  ('A', 1, 'ip',  NULL,        '10.0.0.1',          now() - interval '50 days'),
  ('A', 1, 'mac', NULL,        '11:22:33:44:55:66', now() - interval '50 days'),
  ('A', 1, 'activation_state', NULL, 'activating',  now() - interval '50 days'),
  ('A', 1, 'activation_state', 'activating', 'activated', now() - interval '40 days'),
  ('A', 1, 'ip',  '10.0.0.1',  '10.0.0.2',          now() - interval '20 days'),
  ('A', 1, 'mac', '11:22:33:44:55:66', 'aa:bb:cc:dd:ee:ff', now() - interval '5 days'),
  ('A', 1, 'activation_state', 'activated', 'activating', now() - interval '3 days'),
  ('B', 1, 'ip',  NULL,        '10.9.0.1',          now() - interval '45 days'),
  ('B', 1, 'activation_state', NULL, 'activated',   now() - interval '45 days'),
  ('B', 1, 'activation_state', 'activated', 'deactivated', now() - interval '2 days'),
  ('B', 1, 'activation_state', 'deactivated', NULL, now() - interval '1 day'),
  ('B', 1, 'mac', NULL,        '22:22:22:22:22:22', now() - interval '2 days'),
  ('GONE', 1, 'ip', NULL,      '10.7.0.1',          now() - interval '30 days');
`

func auditDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.DB(t)
	if _, err := pool.Exec(context.Background(), auditFixture); err != nil {
		t.Fatal(err)
	}
	return pool
}

// column picks the named columns of a report's rows, as strings ("" for
// NULL), in the report's row order.
func columns(t *testing.T, res report.Result, names ...string) [][]string {
	t.Helper()
	idx := map[string]int{}
	for i, c := range res.Columns {
		idx[c] = i
	}
	out := [][]string{}
	for _, row := range res.Rows {
		var r []string
		for _, n := range names {
			i, ok := idx[n]
			if !ok {
				t.Fatalf("report has no column %q (columns %v)", n, res.Columns)
			}
			v := ""
			if row[i] != nil {
				v = *row[i]
			}
			r = append(r, v)
		}
		out = append(out, r)
	}
	return out
}

// independent runs a query written apart from the report files and returns
// its rows as strings ("" for NULL).
func independent(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) [][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out := [][]string{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var r []string
		for _, v := range vals {
			s := ""
			if v != nil {
				s = v.(string)
			}
			r = append(r, s)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func runReport(t *testing.T, pool *pgxpool.Pool, name string, params map[string]string) report.Result {
	t.Helper()
	r, err := report.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), pool, params)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAuditReportsMatchIndependentQueries(t *testing.T) {
	t.Parallel()
	pool := auditDB(t)
	tests := []struct {
		name   string
		report string
		params map[string]string
		cols   []string
		// want is the expected answer, spelled out; sql computes it another
		// way, so that a wrong fixture cannot make both agree by accident.
		want [][]string
		sql  string
		args []any
	}{
		{
			name: "mac_changes", report: "mac_changes", cols: []string{"device_id", "old_mac", "new_mac"},
			want: [][]string{{"A", "11:22:33:44:55:66", "aa:bb:cc:dd:ee:ff"}},
			sql: `SELECT device_id, old_value, new_value FROM device_changes
			      WHERE field = 'mac' AND old_value IS NOT NULL AND new_value IS NOT NULL
			        AND changed_at > now() - interval '30 days' ORDER BY changed_at DESC`,
		},
		{
			name: "activation_regressions", report: "activation_regressions", cols: []string{"device_id", "old_state", "new_state"},
			want: [][]string{{"B", "activated", "deactivated"}, {"A", "activated", "activating"}},
			sql: `SELECT device_id, old_value, new_value FROM device_changes
			      WHERE field = 'activation_state' AND changed_at > now() - interval '30 days'
			        AND (old_value, new_value) IN (('activated', 'activating'), ('activated', 'deactivated'), ('activating', 'deactivated'))
			      ORDER BY changed_at DESC`,
		},
		{
			name: "stale_devices", report: "stale_devices", params: map[string]string{"days": "7"}, cols: []string{"device_id", "sync_status"},
			want: [][]string{{"C", "pending"}, {"B", "error"}},
			sql: `SELECT device_id, sync_status FROM device_inventory
			      WHERE (last_synced_at IS NULL AND added_at < now() - interval '7 days') OR last_synced_at < now() - interval '7 days'
			      ORDER BY last_synced_at IS NOT NULL, last_synced_at`,
		},
		{
			name: "changes_in_window, ip only", report: "changes_in_window", params: map[string]string{"field": "ip", "since": "-infinity"}, cols: []string{"device_id", "old_value", "new_value"},
			want: [][]string{{"A", "", "10.0.0.1"}, {"B", "", "10.9.0.1"}, {"GONE", "", "10.7.0.1"}, {"A", "10.0.0.1", "10.0.0.2"}},
			sql:  `SELECT device_id, old_value, new_value FROM device_changes WHERE field = 'ip' ORDER BY changed_at, change_id`,
		},
		{
			name: "changes_in_window, default last 7 days", report: "changes_in_window", cols: []string{"device_id", "field", "new_value"},
			want: [][]string{{"A", "mac", "aa:bb:cc:dd:ee:ff"}, {"A", "activation_state", "activating"}, {"B", "activation_state", "deactivated"}, {"B", "mac", "22:22:22:22:22:22"}, {"B", "activation_state", ""}},
			sql:  `SELECT device_id, field, new_value FROM device_changes WHERE now() - changed_at <= interval '7 days' ORDER BY changed_at, change_id`,
		},
		{
			// 25 days ago A was activated and had not yet moved to 10.0.0.2.
			name: "state_as_of 25 days ago", report: "state_as_of", cols: []string{"device_id", "activation_state", "ip", "mac"},
			want: [][]string{{"A", "activated", "10.0.0.1", "11:22:33:44:55:66"}, {"B", "activated", "10.9.0.1", ""}, {"GONE", "", "10.7.0.1", ""}},
			// Replaying the history row by row is another way to the same
			// state: for each device and field, the value no later change
			// replaced.
			sql: `SELECT d.device_id,
			        (SELECT new_value FROM device_changes x WHERE x.device_id = d.device_id AND x.field = 'activation_state' AND x.changed_at <= $1::timestamptz ORDER BY changed_at DESC LIMIT 1),
			        (SELECT new_value FROM device_changes x WHERE x.device_id = d.device_id AND x.field = 'ip' AND x.changed_at <= $1::timestamptz ORDER BY changed_at DESC LIMIT 1),
			        (SELECT new_value FROM device_changes x WHERE x.device_id = d.device_id AND x.field = 'mac' AND x.changed_at <= $1::timestamptz ORDER BY changed_at DESC LIMIT 1)
			      FROM (SELECT DISTINCT device_id FROM device_changes WHERE changed_at <= $1::timestamptz) d ORDER BY d.device_id`,
		},
		{
			name: "state_as_of now", report: "state_as_of", cols: []string{"device_id", "activation_state", "ip", "mac"},
			want: [][]string{{"A", "activating", "10.0.0.2", "aa:bb:cc:dd:ee:ff"}, {"B", "", "10.9.0.1", "22:22:22:22:22:22"}, {"GONE", "", "10.7.0.1", ""}},
		},
	}
	var asOf string
	if err := pool.QueryRow(context.Background(), `SELECT (now() - interval '25 days')::text`).Scan(&asOf); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			params, args := tt.params, tt.args
			if tt.name == "state_as_of 25 days ago" {
				params, args = map[string]string{"as_of": asOf}, []any{asOf}
			}
			got := columns(t, runReport(t, pool, tt.report, params), tt.cols...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("report %s (-want +got):\n%s", tt.name, diff)
			}
			if tt.sql != "" {
				if diff := cmp.Diff(independent(t, pool, tt.sql, args...), got); diff != "" {
					t.Errorf("report %s (-independent query +report):\n%s", tt.name, diff)
				}
			}
		})
	}
}

func TestInventoryByManufacturer(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	if _, err := pool.Exec(context.Background(), `INSERT INTO devices (device_id, manufacturer, managed_by, model, sync_status) VALUES
		('A', 'CISCO', 'CISCO', 'DMS Cisco 8811', 'ok'), ('B', 'CISCO', 'CISCO', 'DMS Cisco 8851', 'error'),
		('C', 'THIRD_PARTY', 'CUSTOMER', 'Yealink T54W', 'ok'), ('D', NULL, NULL, NULL, 'pending')`); err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "inventory_by_manufacturer", nil), "manufacturer", "managed_by", "devices", "synced_ok", "models")
	want := [][]string{{"CISCO", "CISCO", "2", "1", "2"}, {"(not yet synced)", "(not yet synced)", "1", "0", "0"}, {"THIRD_PARTY", "CUSTOMER", "1", "1", "1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM device_inventory WHERE manufacturer = 'CISCO'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("device_inventory view: %d CISCO devices (%v), want 2", n, err)
	}
}

func TestChangeLogViewKeepsRemovedDevices(t *testing.T) {
	t.Parallel()
	pool := auditDB(t)
	type logRow struct {
		DeviceID     string
		Model        *string
		NewValue     string
		StillTracked bool
	}
	rows, _ := pool.Query(context.Background(), `SELECT device_id, model, new_value, still_tracked
		FROM device_change_log WHERE field = 'ip' ORDER BY change_id`)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logRow])
	if err != nil {
		t.Fatal(err)
	}
	model := "DMS Cisco 8811"
	model2 := "DMS Cisco 8851"
	want := []logRow{{"A", &model, "10.0.0.1", true}, {"A", &model, "10.0.0.2", true}, {"B", &model2, "10.9.0.1", true}, {"GONE", nil, "10.7.0.1", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("device_change_log (-want +got):\n%s", diff)
	}
}

// The listing's reports: firmware in the fleet, and devices offline.
func TestListingReports(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	_, err := pool.Exec(context.Background(), `
		INSERT INTO devices (device_id, software, connection_status, product) VALUES
		  ('A', 'sip88xx.12-5-1', 'connected',       'Cisco 8811'),
		  ('B', 'sip88xx.12-5-1', 'disconnected',    'Cisco 8811'),
		  ('C', 'sip78xx.14-2-1', 'offline_expired', 'Cisco 7841'),
		  ('D', NULL,             NULL,              NULL),
		  ('E', 'sip78xx.14-2-1', 'connected',       'Cisco 7841'),
		  ('F', 'sip88xx.12-5-1', 'connected',       'Cisco 8811')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(context.Background(), `
		INSERT INTO device_sync_state (device_id, listed_at, last_seen) VALUES
		  ('B', now(), now() - interval '2 days'), ('C', now(), now() - interval '9 days')`)
	if err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "devices_by_software", nil), "software", "devices", "connected")
	want := [][]string{{"sip88xx.12-5-1", "3", "2"}, {"sip78xx.14-2-1", "2", "1"}, {"(not listed yet)", "1", "0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices_by_software (-want +got):\n%s", diff)
	}
	got = columns(t, runReport(t, pool, "devices_offline", nil), "device_id", "connection_status")
	want = [][]string{{"C", "offline_expired"}, {"B", "disconnected"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices_offline (-want +got):\n%s", diff)
	}
}

// listing_agreement sums the recent runs' comparisons per org and field,
// and says whether the job trusts the field now, and why not.
func TestListingAgreementReport(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	_, err := pool.Exec(context.Background(), `
		INSERT INTO sync_runs (status, detect) VALUES ('succeeded', 'listing'), ('succeeded', 'listing'), ('succeeded', 'none')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(context.Background(), `
		INSERT INTO listing_agreement (run_id, org_key, field, compared, disagreed, sampled, missed) VALUES
		  (1, '', 'ip', 100, 0, 5, 0), (2, '', 'ip', 60, 6, 5, 1),
		  (1, '', 'mac', 100, 0, 5, 0), (2, '', 'mac', 60, 0, 5, 0);
		INSERT INTO listing_trust (org_key, field, trusted, evidence) VALUES
		  ('', 'ip', false, 'run 2: 6 of 60 comparisons disagreed (10.0%); 1 changes missed in an audit sample of 5')`)
	if err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "listing_agreement", nil), "field", "runs", "compared", "disagreed", "agree_pct", "missed", "trusted")
	want := [][]string{{"ip", "2", "160", "6", "96.25", "1", "f"}, {"mac", "2", "160", "0", "100.00", "0", "t"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listing_agreement (-want +got):\n%s", diff)
	}
}

// The audit answer, whole on a 120-column terminal: "when did this
// phone's MAC change, and from what?" is a MAC and a field name that no
// table may break across lines (f8:7b:20:54:ca:7 / a reads as another
// MAC). A column the report names as less useful goes first.
func TestAuditTablesKeepValuesWholeAt120Columns(t *testing.T) {
	t.Parallel()
	const id = "Y2lzY29zcGFyazovL3VzL0NBTExJTkdfREVWSUNFLzE4N0NFRkYwLTc1NjMtNDFDNy05NERCLTQyOUIwOTExNTU1Qg=="
	pool := pgtest.DB(t)
	if _, err := pool.Exec(context.Background(), `INSERT INTO sync_runs (status) VALUES ('succeeded'), ('succeeded')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO devices (device_id, model, sync_status) VALUES ($1, 'DMS Cisco 8851', 'ok')`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at, old_value_seen_at) VALUES
		  ($1, 1, 'activation_state', NULL, 'activated', now() - interval '2 hours', NULL),
		  ($1, 1, 'mac', NULL, 'f8:7b:20:54:ca:7a', now() - interval '2 hours', NULL),
		  ($1, 2, 'activation_state', 'deactivated', 'activating', now() - interval '1 hour', now() - interval '2 hours'),
		  ($1, 2, 'mac', 'f8:7b:20:54:ca:7a', 'f8:7b:20:99:ca:7b', now() - interval '1 hour', now() - interval '2 hours'),
		  ($1, 2, 'ip', '192.168.235.107', '192.168.235.108', now() - interval '1 hour', now() - interval '2 hours')`, id); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"device_timeline", map[string]string{"device_id": id}},
		{"changes_in_window", nil},
	} {
		r, err := report.Find(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background(), pool, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := res.WriteOutput(&b, report.Output{Format: "table", Width: 120}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > 120 {
				t.Errorf("%s: a line of %d columns:\n%s", tc.name, n, out)
			}
		}
		for _, v := range []string{"activation_state", "deactivated", "f8:7b:20:54:ca:7a", "f8:7b:20:99:ca:7b", "192.168.235.107", "192.168.235.108"} {
			if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(v) + `(\s|$)`).MatchString(out) {
				t.Errorf("%s: %q is not whole on a line:\n%s", tc.name, v, out)
			}
		}
	}
}
