package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/sync once per test process: signals are only real
// against a real process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wxc-sync-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wxc-sync")
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		out, err := exec.Command(gobin, "build", "-o", binPath, "../../cmd/sync").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build wxc-sync: %v", buildErr)
	}
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan struct{}
	code   int
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &proc{cmd: cmd, stderr: &syncBuf{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func queryInt(t *testing.T, dbURL, sql string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stallingSim serves 200 devices; the last 100 in the order a run takes
// them (by ID, all being new) stall until the client gives up.
func stallingSim(t *testing.T) (*webexsim.Sim, string, []string) {
	t.Helper()
	sim, base := startSim(t, 200)
	ids := sim.IDs()
	sort.Strings(ids)
	for _, id := range ids[100:] {
		sim.SetFault(id, webexsim.Fault{Kind: webexsim.FaultStall})
	}
	return sim, base, ids
}

func TestSIGTERMStoresWhatWasFetchedAndExits(t *testing.T) {
	t.Parallel()
	sim, base, ids := stallingSim(t)
	db := pgtest.DBURL(t)
	track(t, db, ids)
	env := []string{"DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	// Concurrency 4 on 200 devices stalled from the 101st on: the run
	// stores what it can, then hangs on four stalled requests.
	p := startProc(t, env, "run", "--rate", "1000", "--burst", "50", "--concurrency", "4", "--batch-size", "10", "--request-timeout", "10m", "--detect", "none")
	waitfor.Cond(t, "the first devices to be stored", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM devices WHERE sync_status = 'ok'`) > 0
	})
	waitfor.Cond(t, "requests to stall", func() bool { return sim.Stats().ActiveStalls >= 4 })
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM; Kubernetes kills it at 30 s\n%s", p.stderr.String())
	}
	t.Logf("exited %v after SIGTERM", time.Since(sent))
	if p.code != exitcode.Interrupted {
		t.Errorf("exit code %d, want %d\n%s", p.code, exitcode.Interrupted, p.stderr.String())
	}
	ok := queryInt(t, db, `SELECT count(*) FROM devices WHERE sync_status = 'ok'`)
	if answered := int(sim.Stats().ByStatus[200]); ok != answered || ok != 100 {
		t.Errorf("%d devices stored, %d answered; all 100 that answered must be stored", ok, answered)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'interrupted' AND devices_ok = $1 AND devices_skipped = 100`, ok); n != 1 {
		t.Errorf("no interrupted run accounting for %d ok and 100 skipped", ok)
	}
	// The next run finishes the rest without duplicate history.
	for _, id := range ids[100:] {
		sim.ClearFault(id)
	}
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json")
	if r.code != exitcode.OK {
		t.Fatalf("next run: %d\n%s", r.code, r.stderr)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM devices WHERE sync_status = 'ok'`); n != 200 {
		t.Errorf("%d of 200 devices ok after the next run", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM (SELECT device_id, field FROM device_changes GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d duplicate history rows", n)
	}
}

// TestSIGKILLedRunsLockExpiresAndTheNextRunAbandonsIt: a run killed with
// SIGKILL cannot release its lock; its lease expires (3 s here), and the
// next run, waiting for it, takes the scope over and marks the dead run
// abandoned.
func TestSIGKILLedRunsLockExpiresAndTheNextRunAbandonsIt(t *testing.T) {
	t.Parallel()
	sim, base, ids := stallingSim(t)
	db := pgtest.DBURL(t)
	track(t, db, ids)
	env := []string{"DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	p := startProc(t, env, "run", "--rate", "1000", "--burst", "50", "--concurrency", "4", "--request-timeout", "10m", "--lock-lease", "3s")
	waitfor.Cond(t, "requests to stall", func() bool { return sim.Stats().ActiveStalls >= 4 })

	// Meanwhile a second run starts: it exits at once, with 0, and writes nothing.
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base, "--log-format", "json")
	if r.code != exitcode.OK || !strings.Contains(r.stderr, "another run of this scope is in progress") {
		t.Errorf("second run: code %d\n%s", r.code, r.stderr)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs`); n != 1 {
		t.Errorf("%d sync_runs rows; the skipped run must not add one", n)
	}

	p.cmd.Process.Kill()
	<-p.done
	for _, id := range ids[100:] {
		sim.ClearFault(id)
	}
	r = runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base, "--rate", "1000", "--burst", "50", "--wait-for-lock", "20s", "--log-format", "json")
	if r.code != exitcode.OK {
		t.Fatalf("run after SIGKILL: %d\n%s", r.code, r.stderr)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'abandoned' AND finished_at IS NOT NULL`); n != 1 {
		t.Errorf("the killed run is not marked abandoned\n%s", r.stderr)
	}
}

func TestTokenFileRotatedMidRun(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 300)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const rotated = "rotated-token-0987654321"
	go func() {
		for sim.Stats().Requests < 100 {
			time.Sleep(5 * time.Millisecond)
		}
		// Kubernetes updates the mounted secret, then the old token dies.
		os.WriteFile(file, []byte(rotated+"\n"), 0o600)
		sim.SetTokens(rotated)
	}()
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN_FILE": file}, "run", "--api-url", base, "--rate", "300", "--burst", "10", "--log-format", "json")
	if r.code != exitcode.OK {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	if s := summaryLine(t, r.stderr); s["devices_ok"] != float64(300) {
		t.Errorf("summary %v", s)
	}
	if strings.Contains(r.stderr, rotated) {
		t.Errorf("the rotated token appears in the logs")
	}
}

func TestEveryRunLogLineCarriesRunID(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 80)
	ids := sim.IDs()
	sim.SetFault(ids[0], webexsim.Fault{Kind: webexsim.FaultForbidden})
	sim.SetFault(ids[1], webexsim.Fault{Kind: webexsim.FaultUnavailable, Times: 1})
	db := pgtest.DBURL(t)
	track(t, db, ids)
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json", "--log-level", "debug")
	if r.code != exitcode.Partial {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	started := false
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m["msg"] == "run started" {
			started = true
		}
		if !started {
			continue
		}
		lines++
		if m["run_id"] == nil {
			t.Errorf("log line without run_id: %s", sc.Text())
		}
	}
	if lines < 4 {
		t.Errorf("only %d run log lines (want start, a retry, a failure, the summary)", lines)
	}
}

func TestBudgetedRunExitsZero(t *testing.T) {
	t.Parallel()
	// Half the devices answer, the other half never do: the run ends by
	// its budget, not by a race between the budget and the fetching. The
	// budget counts from the start of the command, so it is long enough for
	// connecting and migrating on a loaded machine.
	_, base, ids := stallingSim(t)
	db := pgtest.DBURL(t)
	track(t, db, ids)
	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "run", "--api-url", base, "--detect", "none",
		"--concurrency", "4", "--request-timeout", "10m", "--max-duration", "10s", "--log-format", "json")
	if r.code != exitcode.OK {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	s := summaryLine(t, r.stderr)
	if s["status"] != "partial" || s["devices_skipped"].(float64) < 100 || s["devices_failed"].(float64) != 0 || !strings.Contains(s["error"].(string), "time budget of 10s reached") {
		t.Errorf("summary %v", s)
	}
}
