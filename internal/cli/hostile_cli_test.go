package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// Issue 11, items 4, 5 and 11: a configuration that cannot work is exit 2
// at start, before the database or Webex is touched, whatever the cause:
// no token, a token file that is missing, endless (/dev/zero) or never
// written (a FIFO with no writer), a token with a line break, an API URL
// without a host.
func TestBadConfigurationIsExitTwoAndTouchesNothing(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 10)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	fifo := filepath.Join(t.TempDir(), "token-fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", nil, nil, "no Webex token"},
		{"missing token file", map[string]string{"WEBEX_TOKEN_FILE": "/nonexistent/token"}, nil, "no such file"},
		{"token file /dev/zero", map[string]string{"WEBEX_TOKEN_FILE": "/dev/zero"}, nil, "larger than 16 KiB"},
		{"token file a FIFO with no writer", map[string]string{"WEBEX_TOKEN_FILE": fifo}, nil, "nothing read within 5s"},
		{"token with CR LF", map[string]string{"WEBEX_TOKEN": cliToken + "\r\nX-Injected: 1"}, nil, "line break"},
		{"API URL without a host", map[string]string{"WEBEX_TOKEN": cliToken}, []string{"--api-url", "https://:443/v1"}, "has no host"},
		{"shard 0/0", map[string]string{"WEBEX_TOKEN": cliToken}, []string{"--shard", "0/0"}, "COUNT must be at least 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": db, "WEBEX_API_URL": base}
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, append([]string{"run", "--log-format", "json"}, tt.args...)...)
			if r.code != exitcode.Usage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %q", r.code, r.stderr, exitcode.Usage, tt.want)
			}
		})
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs`); n != 0 {
		t.Errorf("%d runs recorded; a bad configuration starts none", n)
	}
	if n := sim.Stats().Requests; n != 0 {
		t.Errorf("Webex received %d requests", n)
	}
}

// Issue 11, items 6 and 7: Webex not answering, or answering with a
// certificate this host does not trust, is exit 1 naming the problem, the
// run failed, and no device's status moved.
func TestUnreachableOrUntrustedWebexIsExitOne(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, 50)
	tlsSrv := httptest.NewUnstartedServer(sim.Handler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tt := range []struct {
		name, api, want string
	}{
		{"connection refused", closed.URL + "/v1", "Webex API unreachable: "},
		{"DNS failure", "https://wxc-sync-test.invalid/v1", "Webex API unreachable: "},
		{"untrusted certificate", tlsSrv.URL + "/v1", "the Webex API's TLS certificate is not trusted: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.DBURL(t)
			track(t, db, sim.IDs())
			r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", tt.api, "--log-format", "json")
			if r.code != exitcode.Failed {
				t.Errorf("exit %d, want %d\n%s", r.code, exitcode.Failed, r.stderr)
			}
			s := summaryLine(t, r.stderr)
			if e, _ := s["error"].(string); !strings.HasPrefix(e, tt.want) {
				t.Errorf("summary error %q, want it to start with %q", e, tt.want)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error LIKE $1`, tt.want+"%"); n != 1 {
				t.Errorf("no failed run naming %q", tt.want)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM devices WHERE sync_status <> 'pending'`); n != 0 {
				t.Errorf("%d devices changed status", n)
			}
		})
	}
}

// Issue 11, item 15: every key of the JSON log keeps one type on every
// line (Loki, Elasticsearch and Datadog index a key with the type they see
// first), and every duration is a number of seconds named *_seconds.
func TestJSONLogKeysKeepOneType(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 60)
	ids := sim.IDs()
	sim.SetFault(ids[0], webexsim.Fault{Kind: webexsim.FaultForbidden})
	sim.SetFault(ids[1], webexsim.Fault{Kind: webexsim.FaultUnavailable, Times: 1})
	sim.SetFault(ids[2], webexsim.Fault{Kind: webexsim.FaultLocked, Times: 1, RetryAfter: 100 * time.Millisecond})
	sim.SetFault(ids[3], webexsim.Fault{Kind: webexsim.FaultBadGateway})
	db := pgtest.DBURL(t)
	track(t, db, ids)
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base,
		"--rate", "1000", "--burst", "50", "--log-format", "json", "--log-level", "debug", "--max-attempts", "2")
	if r.code != exitcode.Partial {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	types := map[string]map[string]bool{}
	keys := map[string]bool{}
	for _, line := range strings.Split(r.stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		for k, v := range m {
			if types[k] == nil {
				types[k] = map[string]bool{}
			}
			types[k][fmt.Sprintf("%T", v)] = true
			keys[k] = true
		}
	}
	for _, want := range []string{"http_status", "status", "duration_seconds", "pause_seconds", "backoff_seconds", "eta_seconds"} {
		if !keys[want] {
			t.Errorf("no line has %q; the test covers less than it claims", want)
		}
	}
	for k, ts := range types {
		if len(ts) > 1 {
			t.Errorf("key %q has %d types across lines: %v", k, len(ts), ts)
		}
		// By word, so that details_requests is not taken for an eta.
		words := strings.Split(k, "_")
		if slices.ContainsFunc(words, func(w string) bool {
			return w == "duration" || w == "pause" || w == "eta" || w == "backoff" || w == "wait" || w == "waited"
		}) && (!strings.HasSuffix(k, "_seconds") || !ts["float64"]) {
			t.Errorf("duration key %q (%v) is not a number of seconds named *_seconds", k, ts)
		}
	}
}

// Issue 11, item 10: with --tolerate-forbidden, devices forbidden run after
// run (a location admin's token) do not fail every hourly Job, while a
// device newly forbidden, or any error, still exits 3. The runs push to a
// real Pushgateway the failed devices the flag forgave
// (wxc_sync_last_devices_failed_tolerated), which the failing-devices
// alert subtracts as the exit code does.
func TestTolerateForbiddenForgivesOnlyKnownForbiddenDevices(t *testing.T) {
	t.Parallel()
	gw := startPushgateway(t)
	sim, base := startSim(t, 40)
	ids := sim.IDs()
	for _, id := range ids[:3] {
		sim.SetFault(id, webexsim.Fault{Kind: webexsim.FaultForbidden})
	}
	db := pgtest.DBURL(t)
	track(t, db, ids)
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken, "SYNC_TOLERATE_FORBIDDEN": "true"}
	run := func(step string, wantCode int, wantFailed, wantNew float64) {
		t.Helper()
		// Every device every run (--detect none): the faults planted between
		// runs are on devices the listing would vouch for.
		r := runCLI(t, env, "run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json", "--detect", "none",
			"--pushgateway-url", gw)
		if r.code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s", step, r.code, wantCode, r.stderr)
		}
		if s := summaryLine(t, r.stderr); s["devices_failed"] != wantFailed || s["devices_failed_new"] != wantNew {
			t.Errorf("%s: summary %v, want devices_failed %v, devices_failed_new %v", step, s, wantFailed, wantNew)
		}
		fams := gatewayMetrics(t, gw)
		if got := value(t, fams, "wxc_sync_last_devices", "outcome=failed"); got != wantFailed {
			t.Errorf("%s: pushed %v failed devices, want %v", step, got, wantFailed)
		}
		if got := value(t, fams, "wxc_sync_last_devices_failed_tolerated"); got != wantFailed-wantNew {
			t.Errorf("%s: pushed %v tolerated failed devices, want %v", step, got, wantFailed-wantNew)
		}
	}
	run("first run: three devices newly forbidden", exitcode.Partial, 3, 3)
	run("second run: the same three, known", exitcode.OK, 3, 0)
	sim.SetFault(ids[3], webexsim.Fault{Kind: webexsim.FaultForbidden})
	run("a fourth device forbidden", exitcode.Partial, 4, 1)
	run("the four again", exitcode.OK, 4, 0)
	sim.SetFault(ids[4], webexsim.Fault{Kind: webexsim.FaultBadGateway})
	run("an error beside them", exitcode.Partial, 5, 1)
	run("the same error again: errors are never tolerated", exitcode.Partial, 5, 1)
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'partial'`); n != 6 {
		t.Errorf("%d partial runs, want 6: tolerated or not, a run with failed devices is partial", n)
	}
	// Without the flag, every run with a failed device exits 3.
	delete(env, "SYNC_TOLERATE_FORBIDDEN")
	sim.ClearFault(ids[4])
	r := runCLI(t, env, "run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json")
	if r.code != exitcode.Partial {
		t.Errorf("without --tolerate-forbidden: exit %d, want %d", r.code, exitcode.Partial)
	}
}

// Issue 11, item 4: devices import of a file of many bad lines reports the
// first ones and counts the rest, reads CSV as one stream (a quoted field
// over several lines), and imports what is valid with --skip-invalid.
func TestImportManyBadLinesReportsTheFirstAndCountsTheRest(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	const bad = 200_000
	var b strings.Builder
	b.WriteString("name,device_id\n")
	for i := 0; i < bad; i++ {
		b.WriteString("x,not-a-device-id\n")
	}
	b.WriteString("\"Lobby phone,\nby the door\"," + cliDevID(1) + "\n")
	b.WriteString("Desk," + cliDevID(2) + "\n")
	file := writeFile(t, b.String())
	r := runCLI(t, env, "devices", "import", "--skip-invalid", file)
	if r.code != exitcode.Partial {
		t.Fatalf("exit %d, want %d\n%.2000s", r.code, exitcode.Partial, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) > 25 || !strings.Contains(r.stderr, file+": line 2: not a Webex ID") ||
		!strings.Contains(r.stderr, fmt.Sprintf("… and %d more rejected lines (only the first 20 are listed)", bad-20)) ||
		!strings.Contains(r.stderr, fmt.Sprintf("%d lines rejected and not imported", bad)) {
		t.Errorf("%d lines of errors:\n%.3000s", len(lines), r.stderr)
	}
	if diff := cmp.Diff([]string{cliDevID(1), cliDevID(2)}, trackedIDs(t, db)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
	// A file the command line names that does not exist is a usage error.
	if r := runCLI(t, env, "devices", "import", "/nonexistent/devices.csv"); r.code != exitcode.Usage {
		t.Errorf("missing file: exit %d, want %d", r.code, exitcode.Usage)
	}
}

// Issue 11, item 4: devices import - stops on SIGTERM even while stdin
// sends nothing, with exit 4 and nothing imported.
func TestImportFromStdinStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	db := pgtest.DBURL(t)
	cmd := exec.Command(binary(t), "devices", "import", "-")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + db}
	stdinRead, stdinPipe, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = stdinRead
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdinRead.Close() // the child's now
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); stdinPipe.Close() })
	// One valid line, then nothing: the writer stays open. Once the child
	// has read the line, the pipe is empty: it is past its start, where
	// main sets up the signals, and waits for more.
	fmt.Fprintln(stdinPipe, cliDevID(1))
	waitfor.Cond(t, "the child to read its first line", func() bool {
		n, err := unix.IoctlGetInt(int(stdinPipe.Fd()), unix.TIOCINQ) // FIONREAD: bytes not read yet
		return err == nil && n == 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitcode.Interrupted {
			t.Errorf("exit %v, want %d\n%s", err, exitcode.Interrupted, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still reading 20 s after SIGTERM\n%s", stderr.String())
	}
	if got := trackedIDs(t, db); len(got) != 0 {
		t.Errorf("an interrupted import tracked %v", got)
	}
}
