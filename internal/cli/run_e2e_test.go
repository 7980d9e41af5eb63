package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

func TestMain(m *testing.M) {
	pgtest.Main(m, func() {
		if binPath != "" {
			os.RemoveAll(filepath.Dir(binPath))
		}
	})
}

const cliToken = "cli-test-token-abcdef123456"

type cliResult struct {
	code           int
	err            error
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, envMap(env), &stdout, &stderr)
	r := cliResult{code: exitcode.Of(err), err: err, stdout: stdout.String(), stderr: stderr.String()}
	if err != nil && !Silent(err) {
		r.stderr += err.Error()
	}
	if strings.Contains(r.stdout+r.stderr, cliToken) {
		t.Errorf("the token appears in the output of %v", args)
	}
	return r
}

func startSim(t *testing.T, devices int) (*webexsim.Sim, string) {
	t.Helper()
	sim, err := webexsim.New(webexsim.Config{Devices: devices, Seed: 3, Tokens: []string{cliToken}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, base
}

func track(t *testing.T, dbURL string, ids []string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO devices (device_id) SELECT unnest($1::text[])`, ids); err != nil {
		t.Fatal(err)
	}
}

// summaryLine returns the JSON "run finished" log line.
func summaryLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "run finished" {
			return m
		}
	}
	t.Fatalf("no run finished line in:\n%s", stderr)
	return nil
}

func TestMigrateAndStatus(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.EmptyDBURL(t), "WEBEX_TOKEN": cliToken}
	r := runCLI(t, env, "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "00001") || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("status before migrate: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "run", "--no-migrate", "--log-format", "json")
	if r.code != exitcode.Failed || !strings.Contains(r.stderr, "not up to date") {
		t.Errorf("run --no-migrate on an empty database: code %d, %s", r.code, r.stderr)
	}
	if r = runCLI(t, env, "migrate", "--log-format", "json"); r.code != 0 {
		t.Fatalf("migrate: code %d\n%s", r.code, r.stderr)
	}
	// One line per migration applied, and the summary; the statements are
	// debug output.
	sources, err := fs.Glob(migrations.Files(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var applied []string
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if m["statement"] != nil {
			t.Errorf("migrate logs a statement at %v: %.200s", m["level"], line)
		}
		if m["msg"] == "applied migration" {
			applied = append(applied, m["migration"].(string))
		}
	}
	if !slices.Equal(applied, sources) || !strings.HasSuffix(strings.TrimSpace(r.stderr), `"msg":"schema is up to date","applied":`+strconv.Itoa(len(sources))+"}") {
		t.Errorf("migrate logged %v, want one line for each of %v and the summary:\n%s", applied, sources, r.stderr)
	}
	r = runCLI(t, env, "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "applied") || strings.Contains(r.stdout, "pending") {
		t.Errorf("status after migrate: %s", r.stdout)
	}
	if r = runCLI(t, env, "migrate"); r.code != 0 {
		t.Errorf("a second migrate: code %d %s", r.code, r.stderr)
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 50)
	ids := sim.IDs()
	sim.SetFault(ids[0], webexsim.Fault{Kind: webexsim.FaultForbidden})

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"run", "--api-url", base, "--rate", "500", "--burst", "20", "--log-format", "json"}

	t.Run("some devices failed: 3", func(t *testing.T) {
		t.Parallel()
		db := pgtest.EmptyDBURL(t) // run migrates it
		if r := runCLI(t, map[string]string{"DATABASE_URL": db}, "migrate", "--log-format", "json"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		track(t, db, ids)
		r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, common...)
		if r.code != exitcode.Partial {
			t.Fatalf("code %d, want %d\n%s", r.code, exitcode.Partial, r.stderr)
		}
		s := summaryLine(t, r.stderr)
		if s["status"] != "partial" || s["devices_ok"] != float64(49) || s["devices_failed"] != float64(1) {
			t.Errorf("summary %v", s)
		}
	})
	t.Run("all synced: 0, token from a file", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		track(t, db, ids[1:])
		r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN_FILE": tokenFile}, common...)
		if r.code != exitcode.OK {
			t.Fatalf("code %d\n%s", r.code, r.stderr)
		}
		if s := summaryLine(t, r.stderr); s["devices_ok"] != float64(49) || s["run_id"] == nil {
			t.Errorf("summary %v", s)
		}
	})
	t.Run("token rejected: 1", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		track(t, db, ids[1:])
		r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": "wrong-" + cliToken[:5]}, common...)
		if r.code != exitcode.Failed || !strings.Contains(r.stderr, "Webex rejected the token") {
			t.Errorf("code %d, want 1 with the token rejected\n%s", r.code, r.stderr)
		}
		// Each line that says it, says it once.
		for _, line := range strings.Split(r.stderr, "\n") {
			if n := strings.Count(line, "rejected the token"); n > 1 {
				t.Errorf("a line says the token was rejected %d times: %s", n, line)
			}
		}
	})
	t.Run("no tracked devices: says so, names discover and devices add", func(t *testing.T) {
		t.Parallel()
		db := pgtest.DBURL(t)
		r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, common...)
		if r.code != exitcode.OK {
			t.Fatalf("code %d\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"no devices are tracked", Name + " discover", Name + " devices add"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("a run with nothing tracked does not say %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("dead database: 1", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "WEBEX_TOKEN": cliToken}, common...)
		// Retried while it might be a server still starting, then a clear
		// message.
		if r.code != exitcode.Failed || !strings.Contains(r.stderr, "connect to database u@127.0.0.1:1/db: not reachable within") ||
			!strings.Contains(r.stderr, "database not reachable yet; retrying") || strings.Contains(r.stderr, "hunter2") {
			t.Errorf("code %d, want 1 naming the connection without the password, after retrying\n%s", r.code, r.stderr)
		}
	})
}
