package cli

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// spellings writes a simulator MAC (12 upper-case hex digits) the ways
// people do.
func spellings(mac string) []string {
	lower := strings.ToLower(mac)
	pairs := func(sep string) string {
		var p []string
		for i := 0; i < 12; i += 2 {
			p = append(p, mac[i:i+2])
		}
		return strings.Join(p, sep)
	}
	return []string{pairs(":"), strings.ToLower(pairs("-")), lower[0:4] + "." + lower[4:8] + "." + lower[8:12], mac}
}

// trackedAs is the ID a look-up by MAC tracks: callingDeviceId, or id when
// the listing item has none.
func trackedAs(d webexsim.Device) string {
	if d.CallingIDOmitted {
		return d.ListID
	}
	return d.ID
}

// devices add --mac resolves MACs through GET /v1/devices?mac= on the
// simulator, over real HTTP, and tracks the calling device found.
func TestDevicesAddByMAC(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 40)
	devs := sim.Devices()
	sort.Slice(devs, func(i, j int) bool { return devs[i].ID < devs[j].ID })
	webex := []string{"--api-url", base, "--rate", "100", "--burst", "10"}

	t.Run("several MACs in several spellings", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
		args := append([]string{"devices", "add"}, webex...)
		var want []string
		for i, d := range devs[:4] {
			args = append(args, "--mac", spellings(d.MAC)[i])
			want = append(want, trackedAs(d))
		}
		// A comma-separated list, and a MAC given twice, count once each.
		args = append(args, "--mac", spellings(devs[4].MAC)[0]+","+spellings(devs[0].MAC)[3])
		want = append(want, trackedAs(devs[4]))
		// A listing item without callingDeviceId is tracked by its id.
		omitted := -1
		for i, d := range devs[5:] {
			if d.CallingIDOmitted {
				omitted = 5 + i
				break
			}
		}
		if omitted < 0 {
			t.Fatal("the simulated fleet has no item without callingDeviceId")
		}
		args = append(args, "--mac", devs[omitted].MAC)
		want = append(want, devs[omitted].ListID)
		r := runCLI(t, env, args...)
		if r.code != exitcode.OK {
			t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, trackedIDs(t, db)); diff != "" {
			t.Errorf("tracked (-want +got):\n%s", diff)
		}
		if !strings.Contains(r.stdout, "6 devices added") || !strings.Contains(r.stdout, "is "+trackedAs(devs[0])) {
			t.Errorf("output:\n%s", r.stdout)
		}
		// Adding the same device again by MAC changes nothing.
		r = runCLI(t, env, append(append([]string{"devices", "add"}, webex...), "--mac", devs[1].MAC)...)
		if r.code != exitcode.OK || !strings.Contains(r.stdout, "0 devices added") {
			t.Errorf("again: code %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("no device has the MAC: nothing added", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
		r := runCLI(t, env, append(append([]string{"devices", "add"}, webex...), "--mac", devs[6].MAC, "--mac", "02:00:00:00:00:01")...)
		if r.code != exitcode.Failed || !strings.Contains(r.stderr, "MAC 02:00:00:00:00:01: no device in Webex has this MAC") || !strings.Contains(r.stderr, "nothing added") {
			t.Errorf("code %d\n%s", r.code, r.stderr)
		}
		if got := trackedIDs(t, db); len(got) != 0 {
			t.Errorf("tracked %v after a failed look-up", got)
		}
	})

	t.Run("two devices share the MAC: nothing added, both named", func(t *testing.T) {
		t.Parallel()
		shared, err := webexsim.New(webexsim.Config{Devices: 10, Seed: 4, Tokens: []string{cliToken}})
		if err != nil {
			t.Fatal(err)
		}
		sbase, err := shared.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { shared.Close() })
		sd := shared.Devices()
		shared.Update(sd[1].ID, func(d *webexsim.Device) { d.MAC = sd[0].MAC })
		db := pgtest.DBURL(t)
		env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
		r := runCLI(t, env, "devices", "add", "--api-url", sbase, "--mac", sd[0].MAC)
		if r.code != exitcode.Failed || !strings.Contains(r.stderr, "2 devices have this MAC") ||
			!strings.Contains(r.stderr, sd[0].ID) || !strings.Contains(r.stderr, sd[1].ID) {
			t.Errorf("code %d\n%s", r.code, r.stderr)
		}
		if got := trackedIDs(t, db); len(got) != 0 {
			t.Errorf("tracked %v after an ambiguous look-up", got)
		}
	})

	t.Run("usage errors before any request", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--mac", "00:11:22:33:44"}, `"00:11:22:33:44" is not a MAC address`},
			{[]string{"--mac", "00:11:22:33:44:GG"}, "is not a MAC address"},
			{[]string{devs[0].MAC}, "a MAC address, not a device ID: give it as --mac " + devs[0].MAC},
		} {
			r := runCLI(t, env, append(append([]string{"devices", "add"}, webex...), tc.args...)...)
			if r.code != exitcode.Usage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: code %d, want 2 saying %q\n%s", tc.args, r.code, tc.want, r.stderr)
			}
		}
		r := runCLI(t, map[string]string{"DATABASE_URL": db}, "devices", "add", "--api-url", base, "--mac", devs[0].MAC)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "no Webex token") {
			t.Errorf("--mac without a token: code %d\n%s", r.code, r.stderr)
		}
	})
}

// devices import takes a CSV mac column, looked up as --mac is; a MAC no
// device has rejects its line with its number.
func TestDevicesImportMACColumn(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 20)
	devs := sim.Devices()
	sort.Slice(devs, func(i, j int) bool { return devs[i].ID < devs[j].ID })
	file := writeFile(t, strings.Join([]string{
		"device_id,mac",
		devs[0].ID + ",",                   // 2 by ID
		"," + spellings(devs[1].MAC)[0],    // 3 by MAC
		"," + spellings(devs[2].MAC)[2],    // 4 by MAC, Cisco spelling
		",02:00:00:00:00:09",               // 5 no such device
		"," + strings.ToLower(devs[0].MAC), // 6 the device of line 2
	}, "\n"))
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
	r := runCLI(t, env, "devices", "import", "--api-url", base, file)
	if r.code != exitcode.Failed || !strings.Contains(r.stderr, "line 5: mac 02:00:00:00:00:09: no device in Webex has this MAC") ||
		!strings.Contains(r.stderr, "line 6: mac") || !strings.Contains(r.stderr, "the device of line 2") || !strings.Contains(r.stderr, "nothing imported") {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	if got := trackedIDs(t, db); len(got) != 0 {
		t.Fatalf("tracked %v though lines were rejected", got)
	}
	r = runCLI(t, env, "devices", "import", "--api-url", base, "--skip-invalid", file)
	if r.code != exitcode.Partial {
		t.Fatalf("--skip-invalid: code %d\n%s", r.code, r.stderr)
	}
	want := []string{trackedAs(devs[0]), trackedAs(devs[1]), trackedAs(devs[2])}
	want[0] = devs[0].ID
	sort.Strings(want)
	if diff := cmp.Diff(want, trackedIDs(t, db)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
	// Without a token, a file with mac lines is a usage problem, said before
	// anything is imported.
	r = runCLI(t, map[string]string{"DATABASE_URL": pgtest.DBURL(t)}, "devices", "import", "--api-url", base, file)
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "give a mac to look up") {
		t.Errorf("no token: code %d\n%s", r.code, r.stderr)
	}
}

// devices import validates every line in one round: a line that does not
// parse and a MAC that no device has are both listed by the same run, and
// nothing is imported. (A rerun after fixing the first list used to meet
// the MAC look-ups' rejections.)
func TestDevicesImportRejectsInOneRound(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 10)
	devs := sim.Devices()
	file := writeFile(t, strings.Join([]string{
		"device_id,mac",
		devs[0].ID + ",",                    // 2 fine
		"not-a-webex-id,",                   // 3 does not parse
		"," + devs[1].MAC,                   // 4 fine, by MAC
		",02:00:00:00:00:09",                // 5 no device has it
		"Y2lzY29zcGFyazovL3VzL1BFT1BMRS8x,", // 6 a person, not a device
	}, "\n"))
	db := pgtest.DBURL(t)
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "devices", "import", "--api-url", base, file)
	for _, want := range []string{"line 3:", "line 5: mac 02:00:00:00:00:09: no device in Webex has this MAC", "line 6:", "3 lines rejected, nothing imported"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if r.code != exitcode.Failed || strings.Contains(r.stderr, "line 2:") || strings.Contains(r.stderr, "line 4:") {
		t.Errorf("code %d\n%s", r.code, r.stderr)
	}
	if got := trackedIDs(t, db); len(got) != 0 {
		t.Errorf("tracked %v though lines were rejected", got)
	}
}

// A Webex that cannot be used (its certificate not trusted, or not there
// at all) stops devices add --mac and devices import at once, naming why,
// rather than rejecting every MAC in turn; nothing is added.
func TestMACLookUpsStopWhenWebexCannotBeUsed(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, 40)
	devs := sim.Devices()
	untrusted := httptest.NewUnstartedServer(sim.Handler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var lines []string
	for _, d := range devs {
		lines = append(lines, ","+d.MAC)
	}
	file := writeFile(t, "device_id,mac\n"+strings.Join(lines, "\n"))
	for _, tt := range []struct {
		name, api, want string
	}{
		{"untrusted certificate", untrusted.URL + "/v1", "untrusted certificate"},
		{"nothing listens", closed.URL + "/v1", "Webex API unreachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.DBURL(t)
			env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
			webex := []string{"--api-url", tt.api, "--rate", "1000", "--burst", "50", "--max-attempts", "2"}
			args := append([]string{"devices", "add"}, webex...)
			for _, d := range devs[:12] {
				args = append(args, "--mac", d.MAC)
			}
			for _, args := range [][]string{args, append(append([]string{"devices", "import", "--skip-invalid"}, webex...), file)} {
				r := runCLI(t, env, args...)
				if r.code != exitcode.Failed || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, tt.want) > 1 {
					t.Errorf("%s: code %d, want 1 saying %q once\n%s", args[1], r.code, tt.want, r.stderr)
				}
				if got := trackedIDs(t, db); len(got) != 0 {
					t.Errorf("%s: tracked %v", args[1], got)
				}
			}
		})
	}
}
