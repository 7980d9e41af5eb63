package cli

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// lookupFleet is a database that the job synced from the simulator over
// real HTTP, holding every case an identifier look-up meets.
type lookupFleet struct {
	env map[string]string
	db  string
	// plain is found by each of its identifiers; merged was once tracked
	// in two spellings, its DEVICE ID merged into its CALLING_DEVICE ID
	// (migration 00009); removed is no longer tracked, its history kept;
	// twinA and twinB share a MAC; prefixA and prefixB share the start of
	// their UUIDs (tracked, unknown to Webex).
	plain, merged, removed, twinA, twinB webexsim.Device
	prefixA, prefixB                     string
}

func lookupSetup(t *testing.T) lookupFleet {
	t.Helper()
	ctx := context.Background()
	sim, base := startSim(t, 30)
	devs := sim.Devices()
	f := lookupFleet{merged: devs[0], plain: devs[1], twinA: devs[2], removed: devs[4]}
	if !sim.Update(devs[3].ID, func(d *webexsim.Device) { d.MAC = f.twinA.MAC }) {
		t.Fatal("the simulator lost a device")
	}
	f.twinB, _ = sim.Device(devs[3].ID)
	f.prefixA = base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/abcd0000-0000-4000-8000-000000000001"))
	f.prefixB = base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/abcd0001-0000-4000-8000-000000000002"))

	// Before migration 00009 a device could be tracked twice: as its
	// CALLING_DEVICE ID (synced first, so kept) and as the listing's DEVICE
	// ID, with history under each.
	f.db = pgtest.EmptyDBURL(t)
	pool, err := pgxpool.New(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.UpTo(ctx, pool, 8); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO devices (device_id, first_synced_at) VALUES ($1, now() - interval '2 days'), ($2, NULL)`,
		`INSERT INTO device_changes (device_id, field, old_value, new_value, changed_at)
		 SELECT $2, 'ip', NULL, '10.9.9.9', now() - interval '1 day' WHERE $1 <> ''`,
	} {
		if _, err := pool.Exec(ctx, stmt, f.merged.ID, f.merged.ListID); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}

	f.env = map[string]string{"DATABASE_URL": f.db, "WEBEX_TOKEN": cliToken}
	add := []string{"devices", "add", f.prefixA, f.prefixB}
	for _, d := range devs[1:] {
		add = append(add, d.ID)
	}
	if r := runCLI(t, f.env, add...); r.code != exitcode.OK {
		t.Fatalf("devices add: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, f.env, "run", "--api-url", base, "--rate", "500", "--burst", "20", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("run: code %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, f.env, "devices", "remove", f.removed.ID); r.code != exitcode.OK {
		t.Fatalf("devices remove: code %d\n%s", r.code, r.stderr)
	}
	return f
}

// historyOf is what device_changes holds for the IDs, as field, new value
// and the ID recorded under, in order: what a timeline must show.
func historyOf(t *testing.T, db string, ids ...string) [][]string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), `
		SELECT ARRAY[field, coalesce(new_value, ''), device_id] FROM device_changes
		WHERE device_id = ANY ($1) ORDER BY changed_at, change_id`, ids)
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no history for %v: the setup is wrong", ids)
	}
	return out
}

// timelineRows reads a device_timeline CSV into field, new value and the ID
// recorded under, by column name (the report may gain columns).
func timelineRows(t *testing.T, out string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("timeline CSV: %v\n%s", err, out)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	var got [][]string
	for _, r := range recs[1:] {
		got = append(got, []string{r[col["field"]], r[col["new_value"]], r[col["recorded_as"]]})
	}
	return got
}

// localOf is the UUID inside an ID as it is written there.
func localOf(t *testing.T, id string) string {
	t.Helper()
	p, err := deviceid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Local
}

func uuidOf(t *testing.T, id string) string {
	t.Helper()
	u, err := deviceid.UUID(id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Issue 16: an auditor finds a device by whatever identifier they hold.
// Each form is looked up, by report device_timeline and by devices show, in
// a database the job synced over real HTTP.
func TestAnyIdentifierFindsTheDevice(t *testing.T) {
	t.Parallel()
	f := lookupSetup(t)
	plainUUID := uuidOf(t, f.plain.ID)
	rawPlain, _ := base64.StdEncoding.DecodeString(f.plain.ID)
	// What a table prints of the ID: the first 13 characters of the UUID
	// inside, in its case.
	short := localOf(t, f.plain.ID)[:13] + "…"
	if r := runCLI(t, f.env, "devices", "list"); !strings.Contains(r.stdout, short) {
		t.Fatalf("devices list does not print %s:\n%s", short, r.stdout)
	}

	found := []struct {
		name, in string
		want     string   // the device's ID as stored
		by       string   // how it matched, as the note says
		history  []string // the IDs its timeline covers
	}{
		{name: "CALLING_DEVICE ID as stored", in: f.plain.ID, want: f.plain.ID},
		{name: "DEVICE ID, as the listing gives it", in: f.plain.ListID, want: f.plain.ID, by: "uuid"},
		{name: "unpadded", in: strings.TrimRight(f.plain.ID, "="), want: f.plain.ID, by: "uuid"},
		{name: "URL alphabet, unpadded", in: base64.RawURLEncoding.EncodeToString(rawPlain), want: f.plain.ID},
		{name: "UUID", in: plainUUID, want: f.plain.ID, by: "uuid"},
		{name: "UUID, upper case", in: strings.ToUpper(plainUUID), want: f.plain.ID, by: "uuid"},
		{name: "UUID without dashes", in: strings.ReplaceAll(plainUUID, "-", ""), want: f.plain.ID, by: "uuid"},
		{name: "MAC with colons", in: spellings(f.plain.MAC)[0], want: f.plain.ID, by: "listed mac, mac"},
		{name: "MAC with dashes, lower case", in: spellings(f.plain.MAC)[1], want: f.plain.ID, by: "listed mac, mac"},
		{name: "MAC with Cisco dots", in: spellings(f.plain.MAC)[2], want: f.plain.ID, by: "listed mac, mac"},
		{name: "MAC bare, as Webex gives it", in: spellings(f.plain.MAC)[3], want: f.plain.ID, by: "listed mac, mac"},
		{name: "short ID as the table prints it", in: short, want: f.plain.ID, by: "short id"},
		{name: "short ID typed, lower case", in: strings.ToLower(plainUUID[:13]), want: f.plain.ID, by: "short id"},
		{name: "merged-away ID", in: f.merged.ListID, want: f.merged.ID, by: "merged id, uuid", history: []string{f.merged.ID, f.merged.ListID}},
		{name: "removed device, another spelling", in: strings.TrimRight(f.removed.ID, "="), want: f.removed.ID, by: "history"},
	}
	for _, tt := range found {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			history := tt.history
			if history == nil {
				history = []string{tt.want}
			}
			wantHistory := historyOf(t, f.db, history...)
			checkNote := func(cmd string, r cliResult) {
				t.Helper()
				if tt.in != tt.want && (!strings.Contains(r.stderr, tt.in+" is "+tt.want) || !strings.Contains(r.stderr, "matched by "+tt.by)) {
					t.Errorf("%s: the note does not say %s is %s, matched by %s:\n%s", cmd, tt.in, tt.want, tt.by, r.stderr)
				}
			}

			r := runCLI(t, f.env, "report", "device_timeline", "--param", "device_id="+tt.in, "--format", "csv")
			if r.code != exitcode.OK {
				t.Fatalf("report: code %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if diff := cmp.Diff(wantHistory, timelineRows(t, r.stdout)); diff != "" {
				t.Errorf("report device_timeline (-want +got):\n%s", diff)
			}
			checkNote("report", r)
			reportColumns := strings.Split(strings.SplitN(r.stdout, "\n", 2)[0], ",")

			r = runCLI(t, f.env, "devices", "show", tt.in, "--format", "json")
			if r.code != exitcode.OK {
				t.Fatalf("devices show: code %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			var shown struct {
				Device   map[string]any
				Timeline []map[string]any
				Merges   []map[string]any
			}
			if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
				t.Fatalf("devices show --format json: %v\n%s", err, r.stdout)
			}
			// devices show runs the report's own SQL: the same columns,
			// the change window's among them.
			for _, c := range shown.Timeline {
				var keys []string
				for k := range c {
					keys = append(keys, k)
				}
				if diff := cmp.Diff(sorted(reportColumns...), sorted(keys...)); diff != "" || !slices.Contains(keys, "old_value_seen_at") {
					t.Errorf("devices show: timeline columns (-report +show):\n%s", diff)
				}
			}
			var gotHistory [][]string
			for _, c := range shown.Timeline {
				gotHistory = append(gotHistory, []string{c["field"].(string), c["new_value"].(string), c["recorded_as"].(string)})
			}
			if diff := cmp.Diff(wantHistory, gotHistory); diff != "" {
				t.Errorf("devices show: timeline (-want +got):\n%s", diff)
			}
			var gotMerges []string
			for _, m := range shown.Merges {
				gotMerges = append(gotMerges, m["merged_id"].(string))
			}
			if diff := cmp.Diff(history[1:], gotMerges, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("devices show: merges (-want +got):\n%s", diff)
			}
			switch {
			case tt.by == "history" && shown.Device != nil:
				t.Errorf("devices show: a removed device has an inventory row: %v", shown.Device)
			case tt.by != "history" && (shown.Device["device_id"] != tt.want || shown.Device["sync_status"] != "ok" || shown.Device["model"] == nil):
				t.Errorf("devices show: inventory row %v, want %s synced", shown.Device, tt.want)
			}
			checkNote("devices show", r)
		})
	}

	notFound := []struct {
		name, in string
		code     int
		says     []string
	}{
		{name: "short ID of two devices", in: "abcd000", code: exitcode.Usage,
			says: []string{"2 devices match it", f.prefixA + " (not_found", f.prefixB + " (not_found", "matched by short id"}},
		{name: "MAC of two devices", in: spellings(f.twinA.MAC)[0], code: exitcode.Usage,
			says: []string{"2 devices match it", f.twinA.ID + " (", f.twinB.ID + " (", "matched by listed mac, mac"}},
		{name: "UUID of no device", in: "0badc0de-0000-4000-8000-000000000000", code: exitcode.Failed,
			says: []string{"no device matches it", "tried a tracked or merged device ID as given; UUID 0badc0de-0000-4000-8000-000000000000"}},
		{name: "MAC of no device", in: "02:00:00:00:00:01", code: exitcode.Failed,
			says: []string{"no device matches it", "MAC 02:00:00:00:00:01"}},
		{name: "ID of no device", in: cliDevID(77), code: exitcode.Failed,
			says: []string{"no device matches it", "UUID bbbbbbbb-0000-4000-8000-000000000077", "the history of removed devices under the ID's"}},
		{name: "a person's ID", in: base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/" + plainUUID)), code: exitcode.Failed,
			says: []string{"no device matches it", "it is a PEOPLE ID"}},
		{name: "no identifier at all", in: "Lobby Phone", code: exitcode.Usage,
			says: []string{"not a device identifier", "whitespace"}},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"report", "device_timeline", "--param", "device_id=" + tt.in, "--format", "csv"},
				{"devices", "show", tt.in, "--format", "csv"},
			} {
				r := runCLI(t, f.env, args...)
				if r.code != tt.code || r.stdout != "" {
					t.Errorf("%s: code %d, want %d and no output\n%s", args[:2], r.code, tt.code, r.stdout)
				}
				for _, want := range tt.says {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("%s: the error does not say %q:\n%s", args[:2], want, r.stderr)
					}
				}
			}
		})
	}

	// devices show's table: the inventory row down the page, the timeline
	// and the merges, each under its title.
	// The spelling of the parameter, --param device=X, is the same
	// as device_id; both at once is a usage error.
	t.Run("report --param device=X", func(t *testing.T) {
		t.Parallel()
		byAlias := runCLI(t, f.env, "report", "device_timeline", "--param", "device="+plainUUID, "--format", "csv")
		byName := runCLI(t, f.env, "report", "device_timeline", "--param", "device_id="+plainUUID, "--format", "csv")
		if byAlias.code != exitcode.OK || byAlias.stdout != byName.stdout || strings.Count(byAlias.stdout, "\n") < 2 {
			t.Errorf("--param device: code %d\n%s\nwant what --param device_id gives:\n%s", byAlias.code, byAlias.stdout, byName.stdout)
		}
		both := runCLI(t, f.env, "report", "device_timeline", "--param", "device="+plainUUID, "--param", "device_id="+plainUUID)
		if both.code != exitcode.Usage || !strings.Contains(both.stderr, "give one") {
			t.Errorf("both: code %d\n%s", both.code, both.stderr)
		}
	})
	t.Run("devices show as a table", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, f.env, "devices", "show", f.merged.ListID)
		if r.code != exitcode.OK {
			t.Fatalf("code %d\n%s", r.code, r.stderr)
		}
		if !regexp.MustCompile(`\nsync_status +ok\n`).MatchString(r.stdout) {
			t.Errorf("devices show lacks the row's sync_status ok:\n%s", r.stdout)
		}
		for _, want := range []string{"Device\n\ndevice_id ", f.merged.ID,
			"\nTimeline", "10.9.9.9", "\nIDs merged into this device\n\nmerged_id", localOf(t, f.merged.ListID)[:13] + "…", "(1 row)"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("devices show lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	// devices list --mac: any spelling, the details' or the listing's MAC.
	byMAC := []struct {
		name, mac string
		code      int
		ids       []string
		says      string
	}{
		{name: "colons", mac: spellings(f.plain.MAC)[0], ids: []string{f.plain.ID}},
		{name: "dashes, lower case", mac: spellings(f.plain.MAC)[1], ids: []string{f.plain.ID}},
		{name: "Cisco dots", mac: spellings(f.plain.MAC)[2], ids: []string{f.plain.ID}},
		{name: "bare", mac: spellings(f.plain.MAC)[3], ids: []string{f.plain.ID}},
		{name: "two devices: both listed, exit 2", mac: spellings(f.twinA.MAC)[2], code: exitcode.Usage,
			ids: sorted(f.twinA.ID, f.twinB.ID), says: "2 devices have MAC"},
		{name: "no device: exit 1, no table", mac: "02:00:00:00:00:01", code: exitcode.Failed,
			says: "no tracked device has MAC 02:00:00:00:00:01, in its details or in the listing"},
		{name: "not a MAC: exit 2", mac: "00:11:22:33:44", code: exitcode.Usage, says: `--mac: "00:11:22:33:44" is not a MAC address`},
	}
	for _, tt := range byMAC {
		t.Run("devices list --mac, "+tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, f.env, "devices", "list", "--mac", tt.mac, "--format", "csv")
			if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
				t.Errorf("code %d, want %d saying %q\n%s", r.code, tt.code, tt.says, r.stderr)
			}
			var got []string
			if r.stdout != "" {
				recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range recs[1:] {
					got = append(got, rec[0])
				}
			}
			if diff := cmp.Diff(tt.ids, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("devices list --mac with a status none has", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, f.env, "devices", "list", "--mac", f.plain.MAC, "--failing")
		if r.code != exitcode.Failed || r.stdout != "" || !strings.Contains(r.stderr, "no tracked device with sync status forbidden or error has MAC") {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
