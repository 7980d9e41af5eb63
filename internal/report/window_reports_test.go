package report_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// windowFixture has changes whose windows (old_value_seen_at, changed_at]
// fall inside, across and outside a fixed window, and devices in every
// connection state, some of them gone from Webex.
const windowFixture = `
INSERT INTO sync_runs (status) VALUES ('succeeded');
INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at, old_value_seen_at) VALUES
  ('IN',     1, 'ip', '10.0.0.1', '10.0.0.2', '2026-03-01 10:30+00', '2026-03-01 10:10+00'),
  ('ACROSS', 1, 'ip', '10.0.1.1', '10.0.1.2', '2026-03-01 12:30+00', '2026-03-01 10:50+00'),
  ('AFTER',  1, 'ip', '10.0.2.1', '10.0.2.2', '2026-03-01 13:30+00', '2026-03-01 11:10+00'),
  ('BEFORE', 1, 'ip', '10.0.3.1', '10.0.3.2', '2026-03-01 09:30+00', '2026-03-01 09:00+00'),
  ('FIRST',  1, 'ip', NULL,       '10.0.4.1', '2026-03-01 10:40+00', NULL),
  ('LATE',   1, 'ip', NULL,       '10.0.5.1', '2026-03-01 11:40+00', NULL);
INSERT INTO devices (device_id, sync_status, connection_status, software, product) VALUES
  ('C1', 'ok',        'connected',    'sip88xx.14-1', 'Cisco 8811'),
  ('C2', 'ok',        'connected',    'sip88xx.14-1', 'Cisco 8811'),
  ('G1', 'not_found', 'connected',    'sip88xx.14-1', 'Cisco 8811'),
  ('G2', 'not_found', 'disconnected', 'sip88xx.14-2', 'Cisco 8811'),
  ('D1', 'ok',        'disconnected', 'sip88xx.14-2', 'Cisco 8811'),
  ('E1', 'error',     'connected',    'sip88xx.14-2', 'Cisco 8811');
INSERT INTO device_sync_state (device_id, last_attempt_at, last_synced_at, last_run_id, last_seen) VALUES
  ('C1', now(), now() - interval '2 hours',  1, now()),
  ('C2', now(), now() - interval '30 hours', 1, now()),
  ('G1', now(), now() - interval '90 days',  1, now() - interval '90 days'),
  ('G2', now(), now() - interval '80 days',  1, now() - interval '80 days'),
  ('D1', now(), now() - interval '5 hours',  1, now() - interval '1 hour'),
  ('E1', now(), NULL,                        1, now());
`

// A change may have happened anywhere in (old_value_seen_at, changed_at]:
// changes_in_window lists it when that window meets the asked one, even
// when it was noticed after the window ended; a row without a window (a
// first sync) counts at changed_at. device_timeline shows the window.
func TestReportsShowChangeWindows(t *testing.T) {
	t.Parallel()
	pool := auditDB(t)
	if _, err := pool.Exec(context.Background(), windowFixture); err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "changes_in_window", map[string]string{
		"since": "2026-03-01 10:00+00", "until": "2026-03-01 11:00+00", "field": "ip"}),
		"device_id", "old_value_seen_at", "changed_at")
	want := [][]string{
		{"IN", "2026-03-01 10:10:00+00", "2026-03-01 10:30:00+00"},
		{"FIRST", "", "2026-03-01 10:40:00+00"},
		{"ACROSS", "2026-03-01 10:50:00+00", "2026-03-01 12:30:00+00"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes_in_window 10:00-11:00 (-want +got):\n%s", diff)
	}

	got = columns(t, runReport(t, pool, "device_timeline", map[string]string{"device_id": "ACROSS"}),
		"old_value_seen_at", "changed_at", "old_value", "new_value")
	want = [][]string{{"2026-03-01 10:50:00+00", "2026-03-01 12:30:00+00", "10.0.1.1", "10.0.1.2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("device_timeline (-want +got):\n%s", diff)
	}
}

// A device Webex answers 404 for is gone: never counted as connected,
// whatever the listing said of it last, and marked gone among the devices
// that are not connected.
func TestGoneDevicesAreNotConnected(t *testing.T) {
	t.Parallel()
	pool := auditDB(t)
	if _, err := pool.Exec(context.Background(), windowFixture); err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "devices_by_software", nil), "software", "devices", "connected", "gone")
	want := [][]string{
		{"(not listed yet)", "4", "0", "0"}, // the audit fixture's devices
		{"sip88xx.14-1", "3", "2", "1"},
		{"sip88xx.14-2", "3", "1", "1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices_by_software (-want +got):\n%s", diff)
	}
	got = columns(t, runReport(t, pool, "devices_offline", nil), "device_id", "connection_status")
	want = [][]string{{"D1", "disconnected"}, {"G1", "gone"}, {"G2", "gone"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices_offline (-want +got):\n%s", diff)
	}
}

// details_age tells how old each org's details are, leaving out the
// devices with nothing to age (never synced, gone), and counts those over
// the max age.
func TestDetailsAgeReport(t *testing.T) {
	t.Parallel()
	pool := auditDB(t)
	if _, err := pool.Exec(context.Background(), windowFixture); err != nil {
		t.Fatal(err)
	}
	got := columns(t, runReport(t, pool, "details_age", map[string]string{"max_age": "24 hours"}),
		"org_id", "devices", "with_details", "never_synced", "gone", "oldest_h", "older_than_max_age")
	// The audit fixture adds A (1 h), B (240 h, error: still details it
	// holds), C and D (never synced); this one C1 (2 h), C2 (30 h), D1
	// (5 h), E1 (never), G1 and G2 (gone).
	want := [][]string{{"", "10", "5", "3", "2", "240.0", "2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details_age (-want +got):\n%s", diff)
	}
	// The default max age is the job's, 24 hours.
	got = columns(t, runReport(t, pool, "details_age", nil), "org_id", "older_than_max_age")
	if diff := cmp.Diff([][]string{{"", "2"}}, got); diff != "" {
		t.Errorf("details_age with the default max_age (-want +got):\n%s", diff)
	}
}
