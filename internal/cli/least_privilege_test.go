package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// grantScript returns scripts/least-privilege.sql for role, with its psql
// meta-commands dropped and :"role" substituted, as psql would.
func grantScript(t *testing.T, role string) string {
	t.Helper()
	b, err := os.ReadFile("../../scripts/least-privilege.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), `\`) {
			out = append(out, line)
		}
	}
	return strings.ReplaceAll(strings.Join(out, "\n"), `:"role"`, pgx.Identifier{role}.Sanitize())
}

// asUser returns dsn with its user replaced (trust authentication).
func asUser(t *testing.T, dsn, user string) string {
	t.Helper()
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		u.User = url.User(user)
		return u.String()
	}
	return dsn + " user=" + user
}

// TestLeastPrivilegeRole proves the claim of docs/CONFIGURATION.md: a role with only the
// grants of scripts/least-privilege.sql can run "run --no-migrate", and it
// cannot rewrite or prune history.
func TestLeastPrivilegeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, base := startSim(t, 30)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())

	admin, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	role := "wxc_runner_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Roles are cluster-wide: drop its grants here, then the role.
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	if _, err := admin.Exec(ctx, grantScript(t, role)); err != nil {
		t.Fatalf("grants: %v", err)
	}
	roleDB := asUser(t, db, role)

	// Two runs, the second after churn, so that history is appended.
	env := map[string]string{"DATABASE_URL": roleDB, "WEBEX_TOKEN": cliToken}
	args := []string{"run", "--no-migrate", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json"}
	if r := runCLI(t, env, args...); r.code != exitcode.OK {
		t.Fatalf("run --no-migrate as %s: code %d\n%s", role, r.code, r.stderr)
	}
	sim.Churn(webexsim.ChurnSpec{Seed: 1, IPChange: 0.5})
	if r := runCLI(t, env, args...); r.code != exitcode.OK {
		t.Fatalf("second run as %s: code %d\n%s", role, r.code, r.stderr)
	}

	conn, err := pgx.Connect(ctx, roleDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var seen, stored int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM device_change_log WHERE field = 'ip' AND old_value IS NOT NULL`).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM device_changes WHERE field = 'ip' AND old_value IS NOT NULL`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if seen == 0 || seen != stored {
		t.Fatalf("the role sees %d IP changes through the view, the table holds %d; want the same, above 0", seen, stored)
	}
	for _, sql := range []string{
		`UPDATE device_changes SET new_value = '10.6.6.6'`,
		`DELETE FROM device_changes`,
		`TRUNCATE device_changes`,
		// Even with the prune setting: the privilege is missing, not just the setting.
		`BEGIN; SET LOCAL wxc_sync.allow_history_prune = 'on'; DELETE FROM device_changes; COMMIT`,
		`ALTER TABLE device_changes DISABLE TRIGGER device_changes_no_update_delete`,
	} {
		_, err := conn.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" || !regexp.MustCompile(`permission denied|must be owner`).MatchString(pe.Message) {
			t.Errorf("%s as %s: err = %v, want permission denied", sql, role, err)
		}
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
	if r := runCLI(t, map[string]string{"DATABASE_URL": roleDB}, "prune-history", "--older-than", "1d"); r.code != exitcode.Failed || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("prune-history as %s: code %d\n%s", role, r.code, r.stderr)
	}
}
