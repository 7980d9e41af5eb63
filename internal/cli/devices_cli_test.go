package cli

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// shortIDs matches a Webex ID as a table shows it: its UUID's first 13
// characters and an ellipsis.
var shortIDs = regexp.MustCompile(`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}…`)

func cliDevID(n int) string {
	return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/bbbbbbbb-0000-4000-8000-0000000000" + string(rune('0'+n/10)) + string(rune('0'+n%10))))
}

func trackedIDs(t *testing.T, dbURL string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), `SELECT device_id FROM devices ORDER BY device_id COLLATE "C"`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "devices.txt")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDevicesCommands(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	people := base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/bbbbbbbb-0000-4000-8000-000000000000"))

	// add: one bad ID and nothing is added.
	r := runCLI(t, env, "devices", "add", cliDevID(1), "Lobby Phone", people)
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, `argument 2 ("Lobby Phone"): whitespace`) || !strings.Contains(r.stderr, "argument 3") || !strings.Contains(r.stderr, "PEOPLE") {
		t.Errorf("add with bad IDs: code %d\n%s", r.code, r.stderr)
	}
	if got := trackedIDs(t, db); len(got) != 0 {
		t.Fatalf("a rejected add tracked %v", got)
	}
	// add, flags after the IDs.
	r = runCLI(t, env, "devices", "add", cliDevID(1), cliDevID(2), "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would add "+cliDevID(1)) || len(trackedIDs(t, db)) != 0 {
		t.Errorf("add --dry-run: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "devices", "add", cliDevID(1), cliDevID(2))
	if r.code != 0 || r.stdout != "added "+cliDevID(1)+"\nadded "+cliDevID(2)+"\n2 devices added, 0 org_ids changed, 0 already tracked\n" {
		t.Errorf("add: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Issue 11, item 14: the same device in another spelling (padding
	// removed, URL alphabet) is the device already tracked, not a new row.
	unpadded := strings.TrimRight(cliDevID(1), "=")
	r = runCLI(t, env, "devices", "add", unpadded)
	if r.code != 0 || r.stdout != "already tracked: "+unpadded+" is the same device as "+cliDevID(1)+"\n0 devices added, 0 org_ids changed, 1 already tracked\n" {
		t.Errorf("add of another spelling: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := trackedIDs(t, db); len(got) != 2 {
		t.Errorf("tracked after adding another spelling: %v, want the 2 devices", got)
	}

	// import: every bad line reported with its number, nothing imported.
	bad := writeFile(t, "# fleet\n"+cliDevID(3)+"\n11223344AAFF\n"+cliDevID(3)+"\n"+people+"\n")
	r = runCLI(t, env, "devices", "import", bad)
	for _, want := range []string{bad + ": line 3: a MAC address", bad + ": line 4: duplicate of line 2", bad + ": line 5: wrong kind of Webex ID: it is a PEOPLE ID", "3 lines rejected, nothing imported"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("import of a bad file: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.code != exitcode.Failed {
		t.Errorf("import of a bad file: code %d, want %d", r.code, exitcode.Failed)
	}
	if diff := cmp.Diff([]string{cliDevID(1), cliDevID(2)}, trackedIDs(t, db)); diff != "" {
		t.Errorf("after a rejected import (-want +got):\n%s", diff)
	}
	// --skip-invalid imports the rest, exit 3.
	r = runCLI(t, env, "devices", "import", "--skip-invalid", bad)
	if r.code != exitcode.Partial || !strings.Contains(r.stdout, "added "+cliDevID(3)) {
		t.Errorf("import --skip-invalid: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A clean CSV: dry run, import, import again.
	good := writeFile(t, "device_id,name\n"+cliDevID(4)+",desk\n"+cliDevID(1)+",lobby\n\n# end\n")
	r = runCLI(t, env, "devices", "import", "--dry-run", good)
	if r.code != 0 || !strings.Contains(r.stdout, "dry run, nothing changed: 1 device would be added, 0 org_ids would change, 1 already tracked") {
		t.Errorf("import --dry-run: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, want := range []string{"1 device added, 0 org_ids changed, 1 already tracked", "0 devices added, 0 org_ids changed, 2 already tracked"} {
		r = runCLI(t, env, "devices", "import", good)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("import %d: code %d, want %q\n%s%s", i+1, r.code, want, r.stdout, r.stderr)
		}
	}
	if diff := cmp.Diff([]string{cliDevID(1), cliDevID(2), cliDevID(3), cliDevID(4)}, trackedIDs(t, db)); diff != "" {
		t.Errorf("after the imports (-want +got):\n%s", diff)
	}

	// remove keeps history.
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO device_changes (device_id, field, new_value) VALUES ($1, 'ip', '10.0.0.1')`, cliDevID(4)); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env, "devices", "remove", "--dry-run", cliDevID(4))
	if r.code != 0 || !strings.Contains(r.stdout, "dry run, nothing changed: 1 device would be removed (history kept), 0 not tracked") {
		t.Errorf("remove --dry-run: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "devices", "remove", cliDevID(4), "NOPE")
	if r.code != 0 || !strings.Contains(r.stdout, "1 device removed (history kept), 1 not tracked") || !strings.Contains(r.stderr, "not tracked: NOPE") {
		t.Errorf("remove: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "report", "device_timeline", "--param", "device_id="+cliDevID(4), "--format", "csv")
	if r.code != 0 || !strings.Contains(r.stdout, ",ip,,10.0.0.1,") {
		t.Errorf("the removed device's timeline: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// list with a status filter, as CSV.
	if _, err := conn.Exec(context.Background(), `UPDATE devices SET sync_status = 'error', last_error = 'HTTP 500' WHERE device_id = $1`, cliDevID(2)); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env, "devices", "list", "--failing", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || r.code != 0 {
		t.Fatalf("list: code %d err %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	want := [][]string{
		{"device_id", "org_id", "sync_status", "model", "ip", "mac", "last_synced_at", "last_error"},
		{cliDevID(2), "", "error", "", "", "", "", "HTTP 500"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("list --failing (-want +got):\n%s", diff)
	}
	r = runCLI(t, env, "devices", "list", "--status", "pending", "--format", "json")
	if r.code != 0 || strings.Count(r.stdout, `"device_id"`) != 2 {
		t.Errorf("list --status pending: code %d\n%s", r.code, r.stdout)
	}
}

func TestDiscoverCommand(t *testing.T) {
	t.Parallel()
	sim, err := webexsim.New(webexsim.Config{Devices: 75, Seed: 4, Tokens: []string{cliToken}, DropFiltersOnNext: true})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	db := pgtest.DBURL(t)
	track(t, db, []string{cliDevID(9)}) // tracked, not listed
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
	args := []string{"discover", "--api-url", base, "--rate", "1000", "--page-size", "20", "--max-attempts", "2", "--log-format", "json"}

	// A page that keeps failing: nothing changes, exit 1.
	sim.SetListFault(webexsim.Fault{Kind: webexsim.FaultBadGateway, Skip: 2})
	r := runCLI(t, env, append(args, "--prune")...)
	if r.code != exitcode.Failed || !strings.Contains(r.stderr, "changed nothing") || !strings.Contains(r.stderr, "page 3") {
		t.Errorf("discover with a failing page: code %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{cliDevID(9)}, trackedIDs(t, db)); diff != "" {
		t.Errorf("after a failed discovery (-want +got):\n%s", diff)
	}
	sim.ClearListFault()

	// A dry run names the first 20 devices it would add, then counts the
	// rest; --list names every one.
	r = runCLI(t, env, append(args, "--dry-run")...)
	if n := strings.Count(r.stdout, "would add "); r.code != 0 || n != 20 || !strings.Contains(r.stdout, "... and 55 more would be added (--list prints every one)\n") {
		t.Errorf("discover --dry-run: code %d, %d devices named, want 20 and a count of the other 55\n%s%s", r.code, n, r.stdout, r.stderr)
	}
	r = runCLI(t, env, append(args, "--dry-run", "--list")...)
	if n := strings.Count(r.stdout, "would add "); r.code != 0 || n != 75 || strings.Contains(r.stdout, "more would be added") {
		t.Errorf("discover --dry-run --list: code %d, %d devices named, want all 75\n%s%s", r.code, n, r.stdout, r.stderr)
	}
	r = runCLI(t, env, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "75 devices listed on 4 pages, 75 calling devices; 75 devices added, 1 not listed, 0 removed") ||
		!strings.Contains(r.stdout, "not listed "+cliDevID(9)) || strings.Count(r.stdout, "\nadded ") != 19 {
		t.Errorf("discover: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Items without callingDeviceId are tracked by their id (DEVICE type).
	want := []string{cliDevID(9)}
	for _, d := range sim.Devices() {
		if d.CallingIDOmitted {
			want = append(want, d.ListID)
		} else {
			want = append(want, d.ID)
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, trackedIDs(t, db)); diff != "" {
		t.Errorf("tracked after discover (-want +got):\n%s", diff)
	}
	r = runCLI(t, env, append(args, "--prune")...)
	if r.code != 0 || !strings.Contains(r.stdout, "removed "+cliDevID(9)) || !strings.Contains(r.stdout, "0 devices added, 1 not listed, 1 removed") {
		t.Errorf("discover --prune: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "report", "recent_discoveries", "--format", "csv")
	recs, _ := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if len(recs) != 6 || recs[1][1] != "succeeded" || recs[3][4] != "dry-run" || recs[5][1] != "failed" {
		t.Errorf("recent_discoveries: %v", recs)
	}
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO devices (device_id, model) VALUES ('A', 'DMS Cisco 8811');
		INSERT INTO device_changes (device_id, field, old_value, new_value, changed_at) VALUES
		  ('A', 'ip', '10.0.0.1', '10.0.0.2', now() - interval '2 days'),
		  ('A', 'ip', '10.0.0.2', '10.0.0.3', now() - interval '9 days')`); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, env, "report", "--list")
	for _, want := range []string{"state_as_of", "as_of (optional)", "ip_changes", "days=7", "device_timeline", "device_id (required)", "mac_changes", "activation_regressions", "changes_in_window", "stale_devices", "inventory_by_manufacturer"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report --list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, env, "report", "ip_changes", "--param", "days=10", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || r.code != 0 {
		t.Fatalf("report: code %d, %v\n%s", r.code, err, r.stderr)
	}
	var got [][]string
	for _, rec := range recs[1:] {
		got = append(got, []string{rec[1], rec[2], rec[3]})
	}
	want := [][]string{{"DMS Cisco 8811", "10.0.0.1", "10.0.0.2"}, {"DMS Cisco 8811", "10.0.0.2", "10.0.0.3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ip_changes days=10 (-want +got):\n%s", diff)
	}
}

func TestPruneHistoryCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO device_changes (device_id, field, new_value, changed_at) VALUES
		('A', 'ip', '10.0.0.1', now() - interval '500 days'), ('A', 'ip', '10.0.0.2', now() - interval '5 days')`); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, "prune-history", "--older-than", "400d", "--dry-run")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "dry run, nothing deleted: would delete 1 history row changed before ") {
		t.Errorf("dry run: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "prune-history", "--older-than", "400d")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "deleted 1 history row changed before ") {
		t.Errorf("prune: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var left int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM device_changes`).Scan(&left); err != nil || left != 1 {
		t.Errorf("%d rows left (%v), want 1", left, err)
	}
}

func TestAuditCommandUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"devices without subcommand", []string{"devices"}, nil, []string{"no subcommand"}},
		{"devices unknown subcommand", []string{"devices", "frob"}, nil, []string{`unknown subcommand "frob"`}},
		{"add without IDs", []string{"devices", "add"}, nil, []string{"no device ID given"}},
		{"add a MAC", []string{"devices", "add", "11:22:33:44:55:66"}, nil, []string{"a MAC address"}},
		{"add with a bad org", []string{"devices", "add", "--org-id", "acme", cliDevID(1)}, nil, []string{"--org-id"}},
		{"import two files", []string{"devices", "import", "a", "b"}, nil, []string{"one file at most"}},
		{"remove without IDs", []string{"devices", "remove"}, nil, []string{"no device ID given"}},
		{"list bad status and format", []string{"devices", "list", "--status", "ok,broken", "--format", "xml"}, nil, []string{`--status "broken"`, `--format "xml"`}},
		{"discover without token, bad page size", []string{"discover", "--page-size", "0"}, nil, []string{"no Webex token", "--page-size 0"}},
		{"discover to a remote http host", []string{"discover", "--api-url", "http://webexapis.com/v1"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{"plain http"}},
		{"run on Webex for Government", []string{"run", "--api-url", "https://api-usgov.webex.com/v1"}, map[string]string{"WEBEX_TOKEN": "t"},
			[]string{"--api-url: api-usgov.webex.com is Webex for Government, which does not support Get Webex Calling Device Details"}},
		{"discover on Webex for Government, any case", []string{"discover", "--api-url", "https://API-USGOV.webex.com./v1"}, map[string]string{"WEBEX_TOKEN": "t"},
			[]string{"is Webex for Government"}},
		{"report without a name", []string{"report"}, nil, []string{"no report name"}},
		{"report unknown", []string{"report", "nope"}, nil, []string{`no report named "nope"`, "recent_runs", "and overview (the fleet page"}},
		{"report missing a required param", []string{"report", "device_timeline"}, nil, []string{"needs --param device_id"}},
		{"report unknown param and bad format", []string{"report", "ip_changes", "--param", "weeks=2", "--param", "x", "--format", "xml"}, nil, []string{`report ip_changes has no parameter "weeks"`, `--param "x"`, `--format "xml"`}},
		{"prune without --older-than", []string{"prune-history"}, nil, []string{"--older-than"}},
		{"prune with 0d", []string{"prune-history", "--older-than", "0d"}, nil, []string{"at least 1"}},
	}
	// A database URL or pooler that cannot work is a usage error naming
	// where it came from, before any connection, in every command that
	// takes them, as in run: not exit 1 after a connection attempt.
	badURL := map[string]string{"DATABASE_URL": "postgress://u:pw@127.0.0.1:1/db"}
	for _, args := range [][]string{
		{"report", "recent_runs"}, {"report", "overview", "--format", "html"}, {"devices", "list"}, {"devices", "show", "x"},
		{"devices", "add", cliDevID(1)}, {"devices", "import", "-"}, {"devices", "remove", "x"}, {"prune-history", "--older-than", "400d"},
	} {
		tests = append(tests, struct {
			name string
			args []string
			env  map[string]string
			want []string
		}{strings.Join(args[:2], " ") + ": bad DATABASE_URL", args, badURL, []string{`environment variable DATABASE_URL: --database-url: not a PostgreSQL URL or keyword/value string: scheme "postgress"`}},
			struct {
				name string
				args []string
				env  map[string]string
				want []string
			}{strings.Join(args[:2], " ") + ": bad --database-pooler", append(slices.Clone(args), "--database-pooler", "bogus"), nil, []string{"--database-pooler"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"} // never reached
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, tt.args...)
			if strings.Contains(r.stderr, "pw@") {
				t.Errorf("the password is in the output:\n%s", r.stderr)
			}
			if r.code != exitcode.Usage {
				t.Fatalf("code %d, want %d\n%s", r.code, exitcode.Usage, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// Webex data with terminal escapes is shown escaped in a table and kept as
// it is in CSV and JSON (issue 11 item 3).
func TestListAndReportEscapeControlCharactersInTables(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	hostile := "\x1b]0;pwned\a\x1b[2J\rDEVICE OK"
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(),
		`INSERT INTO devices (device_id, sync_status, model, last_error) VALUES ($1, 'error', $2, $2)`, cliDevID(7), hostile); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"devices", "list"}, {"report", "failing_devices"}} {
		r := runCLI(t, env, append(args, "--wide")...)
		if r.code != exitcode.OK {
			t.Fatalf("%v: code %d\n%s", args, r.code, r.stderr)
		}
		if strings.ContainsAny(r.stdout, "\x1b\a\r") {
			t.Errorf("%v: the table holds raw control characters:\n%q", args, r.stdout)
		}
		if !strings.Contains(r.stdout, `\x1b]0;pwned\a\x1b[2J\rDEVICE OK`) {
			t.Errorf("%v: the table does not show the escaped text:\n%s", args, r.stdout)
		}
		r = runCLI(t, env, append(args, "--format", "csv")...)
		if r.code != exitcode.OK || !strings.Contains(r.stdout, hostile) {
			t.Errorf("%v --format csv: code %d, the data is not kept as is:\n%q", args, r.code, r.stdout)
		}
	}
}

// The reports an operator reads most fit 120 columns as tables (IDs cut to
// their UUID's start), show IDs whole with --wide, keep CSV as text, type
// JSON, honour --limit, and call a bad parameter value a usage error.
func TestReportOutputShapes(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 60)
	ids := sim.IDs()
	sort.Strings(ids)
	for _, id := range ids[:3] {
		sim.SetFault(id, webexsim.Fault{Kind: webexsim.FaultForbidden})
	}
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
	track(t, db, ids)
	run := []string{"run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json", "--detect", "none"}
	if r := runCLI(t, env, run...); r.code != exitcode.Partial {
		t.Fatalf("first run: code %d\n%s", r.code, r.stderr)
	}
	sim.Churn(webexsim.ChurnSpec{Seed: 5, IPChange: 0.3, MACChange: 0.2, ActivationChange: 0.3})
	if r := runCLI(t, env, run...); r.code != exitcode.Partial {
		t.Fatalf("second run: code %d\n%s", r.code, r.stderr)
	}

	// Some phones offline, as the listing would say, for devices_offline.
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(context.Background(), `UPDATE devices SET connection_status = 'disconnected' WHERE device_id = ANY($1)`, ids[10:15])
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"failing_devices", "stale_devices", "changes_in_window", "ip_changes", "mac_changes",
		"activation_regressions", "recent_runs", "state_as_of", "inventory_by_model", "inventory_by_manufacturer",
		"devices_offline", "devices_by_software", "listing_agreement"} {
		args := []string{"report", name}
		if name == "stale_devices" {
			args = append(args, "--param", "days=0")
		}
		r := runCLI(t, env, args...)
		if r.code != exitcode.OK {
			t.Fatalf("%s: code %d\n%s", name, r.code, r.stderr)
		}
		if strings.Count(r.stdout, "\n") < 4 && name != "listing_agreement" { // it needs many runs
			t.Errorf("%s: too few rows to judge its width:\n%s", name, r.stdout)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := len([]rune(line)); n > 120 {
				t.Errorf("%s: a line of %d columns:\n%s", name, n, r.stdout)
				break
			}
		}
		if strings.Contains(r.stdout, ids[0]) {
			t.Errorf("%s: a whole device ID in the table view", name)
		}
		// Nothing is cut but IDs (to their UUID's start): a long text
		// wraps, a less useful column is left out whole.
		if rest := shortIDs.ReplaceAllString(r.stdout, ""); strings.Contains(rest, "…") {
			t.Errorf("%s: a value cut short:\n%s", name, r.stdout)
		}
		rep, err := report.Find(name)
		if err != nil {
			t.Fatal(err)
		}
		header := runCLI(t, env, append(args, "--format", "csv", "--limit", "1")...).stdout
		cols, err := csv.NewReader(strings.NewReader(header)).Read()
		if err != nil {
			t.Fatalf("%s: csv header: %v", name, err)
		}
		for _, c := range rep.DropFirst {
			if !slices.Contains(cols, c) {
				t.Errorf("%s: its header leaves out %q, which is not one of its columns %v", name, c, cols)
			}
		}
	}

	// What answers the question is whole in the table: each failing
	// device's error (every word, wrapped at spaces), each run's start,
	// each offline phone's name and owner's name.
	tableHas := func(report string, values ...string) {
		t.Helper()
		r := runCLI(t, env, "report", report)
		table := strings.Join(strings.Fields(r.stdout), " ")
		for _, v := range values {
			if !strings.Contains(table, strings.Join(strings.Fields(v), " ")) {
				t.Errorf("%s: the table lacks %q:\n%s", report, v, r.stdout)
			}
		}
	}
	column := func(report, col string) []string {
		t.Helper()
		recs, err := csv.NewReader(strings.NewReader(runCLI(t, env, "report", report, "--format", "csv").stdout)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s as csv: %v %v", report, recs, err)
		}
		i := slices.Index(recs[0], col)
		if i < 0 {
			t.Fatalf("%s has no column %s", report, col)
		}
		var vals []string
		for _, rec := range recs[1:] {
			vals = append(vals, rec[i])
		}
		return vals
	}
	tableHas("failing_devices", column("failing_devices", "last_error")...)
	tableHas("recent_runs", column("recent_runs", "started")...)
	tableHas("devices_offline", column("devices_offline", "display_name")...)
	for _, owner := range column("devices_offline", "owner") {
		if owner == "" || strings.HasPrefix(owner, base64.StdEncoding.EncodeToString([]byte("ciscospark://"))[:16]) {
			t.Errorf("devices_offline: owner %q is an ID where the inventory knows the owner's SIP user name", owner)
		}
	}

	r := runCLI(t, env, "report", "failing_devices", "--wide")
	if r.code != exitcode.OK || !strings.Contains(r.stdout, ids[0]) || !strings.Contains(r.stdout, "refused or access is not allowed") {
		t.Errorf("--wide does not show the whole ID and error: code %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, env, "report", "failing_devices", "--format", "csv")
	if recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || len(recs) != 4 || recs[1][0] != ids[0] || recs[1][2] != "2" {
		t.Errorf("csv: %v %v", recs, err)
	}
	r = runCLI(t, env, "report", "recent_runs", "--format", "json", "--limit", "1")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if len(runs) != 1 || runs[0]["run_id"] != float64(2) || runs[0]["total"] != float64(60) || runs[0]["failed"] != float64(3) || runs[0]["error"] != nil {
		t.Errorf("recent_runs --limit 1 as JSON: %v", runs)
	}
	r = runCLI(t, env, "report", "changes_in_window", "--limit", "5")
	if r.code != exitcode.OK || strings.Count(r.stdout, "\n") != 2+5+1 || !strings.Contains(r.stdout, "the first 5") {
		t.Errorf("--limit 5 table:\n%s", r.stdout)
	}

	for _, tc := range []struct{ args []string }{
		{[]string{"report", "stale_devices", "--param", "days=abc"}},
		{[]string{"report", "changes_in_window", "--param", "since=yesterday-ish"}},
		{[]string{"report", "recent_runs", "--limit", "-1"}},
	} {
		r := runCLI(t, env, tc.args...)
		if r.code != exitcode.Usage || strings.Contains(r.stderr, "SQLSTATE") {
			t.Errorf("%v: code %d, want 2 without a raw SQLSTATE:\n%s", tc.args, r.code, r.stderr)
		}
	}
	r = runCLI(t, env, "report", "stale_devices", "--param", "days=abc")
	if !strings.Contains(r.stderr, "--param days=abc") || !strings.Contains(r.stderr, "integer") {
		t.Errorf("bad days does not name the parameter: %s", r.stderr)
	}
	// A value an enumerated parameter does not take is refused, not an
	// empty answer (field=IP matched no row).
	r = runCLI(t, env, "report", "changes_in_window", "--param", "field=IP")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "--param field=IP: want one of activation_state, ip, mac") {
		t.Errorf("field=IP: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "report", "changes_in_window", "--param", "field=ip", "--format", "csv")
	if r.code != exitcode.OK || !strings.Contains(r.stdout, ",ip,") {
		t.Errorf("field=ip: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
