package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// loginRole creates a login role on db's cluster, with the grants of
// scripts/least-privilege.sql when grants is set, and returns db's URL as it.
func loginRole(t *testing.T, db string, grants bool) (string, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	role := "wxc_check_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer admin.Close(ctx)
		for _, q := range []string{"DROP OWNED BY ", "DROP ROLE "} {
			if _, err := admin.Exec(ctx, q+pgx.Identifier{role}.Sanitize()); err != nil {
				t.Errorf("%s%s: %v", q, role, err)
			}
		}
	})
	if grants {
		if _, err := admin.Exec(ctx, grantScript(t, role)); err != nil {
			t.Fatalf("grants: %v", err)
		}
	}
	return asUser(t, db, role), role
}

// checkJSON runs "check --format json" and returns its exit code and
// checks by name.
func checkJSON(t *testing.T, env map[string]string, args ...string) (int, map[string]checkItem, cliResult) {
	t.Helper()
	r := runCLI(t, env, append([]string{"check", "--format", "json"}, args...)...)
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check --format json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	byName := map[string]checkItem{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
	}
	if rep.OK != (r.code == exitcode.OK) {
		t.Errorf("ok %v with exit %d", rep.OK, r.code)
	}
	return r.code, byName, r
}

func wantStatus(t *testing.T, got map[string]checkItem, want map[string]checkStatus) {
	t.Helper()
	for name, st := range want {
		if got[name].Status != st {
			t.Errorf("%s: %s (%s), want %s", name, got[name].Status, got[name].Detail, st)
		}
	}
}

// check against a good set-up and broken ones: no database, a schema
// behind with --no-migrate, a role without grants, a wrong token, tokens
// without one scope or the other. The token never appears in the output.
func TestCheck(t *testing.T) {
	t.Parallel()
	const (
		detailsOnly = "check-details-only-token-0123456789"
		listOnly    = "check-list-only-token-0123456789"
	)
	sim, err := webexsim.New(webexsim.Config{Devices: 25, Seed: 8, Tokens: []string{cliToken, detailsOnly, listOnly},
		Scopes: map[string][]string{detailsOnly: {webexsim.ScopeTelephonyConfigRead}, listOnly: {webexsim.ScopeDevicesRead}}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	webex := []string{"--api-url", base, "--rate", "50"}
	allOK := map[string]checkStatus{"configuration": checkOK, "database": checkOK, "schema": checkOK, "privileges": checkOK,
		"token": checkOK, "scope telephony_config_read": checkOK, "scope devices_read": checkOK, "rate": checkOK}

	t.Run("good: exit 0, a checklist on the terminal side", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
		code, got, _ := checkJSON(t, env, webex...)
		if code != exitcode.OK {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, allOK)
		if !strings.Contains(got["rate"].Detail, "50 requests/s") || !strings.Contains(got["rate"].Detail, "the 25 devices tracked take at most about 1s per run") {
			t.Errorf("rate: %s", got["rate"].Detail)
		}
		r := runCLI(t, env, append([]string{"check"}, webex...)...)
		if r.code != exitcode.OK || !strings.Contains(r.stdout, "[ok]   token") || !strings.Contains(r.stdout, "Ready: a run would work.") {
			t.Errorf("checklist: code %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("least-privilege role with its grants, --no-migrate", func(t *testing.T) {
		t.Parallel()
		roleDB, _ := loginRole(t, db, true)
		code, got, _ := checkJSON(t, map[string]string{"DATABASE_URL": roleDB, "WEBEX_TOKEN": cliToken}, append(webex, "--no-migrate")...)
		if code != exitcode.OK {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, allOK)
	})
	t.Run("role without the grants", func(t *testing.T) {
		t.Parallel()
		roleDB, role := loginRole(t, db, false)
		code, got, _ := checkJSON(t, map[string]string{"DATABASE_URL": roleDB, "WEBEX_TOKEN": cliToken}, append(webex, "--no-migrate")...)
		if code != exitcode.Failed {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, map[string]checkStatus{"privileges": checkFail, "token": checkOK})
		p := got["privileges"]
		if !strings.Contains(p.Detail, "UPDATE on devices") || !strings.Contains(p.Fix, "-v role="+role+" -f scripts/least-privilege.sql") {
			t.Errorf("privileges: %+v", p)
		}
	})
	t.Run("no database", func(t *testing.T) {
		t.Parallel()
		code, got, r := checkJSON(t, map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "WEBEX_TOKEN": cliToken}, webex...)
		if code != exitcode.Failed || strings.Contains(r.stdout, "hunter2") {
			t.Errorf("exit %d\n%s", code, r.stdout)
		}
		wantStatus(t, got, map[string]checkStatus{"database": checkFail, "schema": checkSkip, "privileges": checkSkip,
			"token": checkOK, "scope telephony_config_read": checkOK})
	})
	t.Run("schema behind, --no-migrate: names what migrate would apply", func(t *testing.T) {
		t.Parallel()
		empty := pgtest.EmptyDBURL(t)
		code, got, _ := checkJSON(t, map[string]string{"DATABASE_URL": empty, "WEBEX_TOKEN": cliToken}, append(webex, "--no-migrate")...)
		if code != exitcode.Failed {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, map[string]checkStatus{"database": checkOK, "schema": checkFail, "privileges": checkSkip})
		if !strings.Contains(got["schema"].Detail, "00001_initial_schema.sql") || !strings.Contains(got["schema"].Fix, Name+" migrate") {
			t.Errorf("schema: %+v", got["schema"])
		}
		// check changed nothing: the database is still empty.
		if n := queryInt(t, empty, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
			t.Errorf("check created %d tables", n)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		wrong := "wrong-token-" + cliToken
		code, got, r := checkJSON(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": wrong}, webex...)
		if code != exitcode.Failed || strings.Contains(r.stdout+r.stderr, wrong) {
			t.Errorf("exit %d\n%s", code, r.stdout)
		}
		wantStatus(t, got, map[string]checkStatus{"database": checkOK, "token": checkFail, "scope telephony_config_read": checkSkip})
	})
	t.Run("token without telephony_config_read", func(t *testing.T) {
		t.Parallel()
		code, got, r := checkJSON(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": listOnly}, webex...)
		if code != exitcode.Failed || strings.Contains(r.stdout+r.stderr, listOnly) {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, map[string]checkStatus{"token": checkOK, "scope telephony_config_read": checkFail, "scope devices_read": checkOK})
	})
	t.Run("token without devices_read: a run still works", func(t *testing.T) {
		t.Parallel()
		code, got, r := checkJSON(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": detailsOnly}, webex...)
		if code != exitcode.OK || strings.Contains(r.stdout+r.stderr, detailsOnly) {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, map[string]checkStatus{"token": checkOK, "scope telephony_config_read": checkOK, "scope devices_read": checkWarn})
		if !strings.Contains(got["scope devices_read"].Detail, "discover") {
			t.Errorf("devices_read: %+v", got["scope devices_read"])
		}
	})
	t.Run("Webex behind a certificate this host does not trust, or not there", func(t *testing.T) {
		t.Parallel()
		untrusted := httptest.NewUnstartedServer(sim.Handler())
		untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
		untrusted.StartTLS()
		t.Cleanup(untrusted.Close)
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		for api, want := range map[string]string{
			untrusted.URL + "/v1": "the Webex API's TLS certificate is not trusted",
			closed.URL + "/v1":    "no answer from Webex",
		} {
			code, got, _ := checkJSON(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}, "--api-url", api)
			if code != exitcode.Failed || !strings.HasPrefix(got["token"].Detail, want) {
				t.Errorf("%s: exit %d, token %+v; want 1 and %q", api, code, got["token"], want)
			}
			wantStatus(t, got, map[string]checkStatus{"database": checkOK, "token": checkFail, "scope telephony_config_read": checkSkip})
		}
	})
	t.Run("freshness: how old the details are, a warning past the max age", func(t *testing.T) {
		t.Parallel()
		own := pgtest.DBURL(t)
		track(t, own, sim.IDs())
		env := map[string]string{"DATABASE_URL": own, "WEBEX_TOKEN": cliToken}
		_, got, _ := checkJSON(t, env, webex...)
		if f := got["freshness"]; f.Status != checkOK || !strings.Contains(f.Detail, "no device has details yet") {
			t.Errorf("before any run: %+v", f)
		}
		if r := runCLI(t, env, append([]string{"run"}, webex...)...); r.code != exitcode.OK {
			t.Fatalf("run: code %d\n%s", r.code, r.stderr)
		}
		_, got, _ = checkJSON(t, env, webex...)
		if f := got["freshness"]; f.Status != checkOK || !strings.Contains(f.Detail, "for the 25 devices with details") {
			t.Errorf("after a run: %+v", f)
		}
		conn, err := pgx.Connect(context.Background(), own)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(context.Background(), `UPDATE device_sync_state SET last_synced_at = last_synced_at - interval '30 hours'`)
		conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		code, got, _ := checkJSON(t, env, webex...)
		if f := got["freshness"]; code != exitcode.OK || f.Status != checkWarn || !strings.Contains(f.Detail, "the oldest details are 30.0 h old") ||
			!strings.Contains(f.Fix, "report details_age") {
			t.Errorf("30 hours later: exit %d, %+v", code, f)
		}
	})
	t.Run("no token configured", func(t *testing.T) {
		t.Parallel()
		code, got, _ := checkJSON(t, map[string]string{"DATABASE_URL": db}, webex...)
		if code != exitcode.Failed {
			t.Errorf("exit %d", code)
		}
		wantStatus(t, got, map[string]checkStatus{"configuration": checkFail, "database": checkOK, "token": checkSkip})
	})
}
