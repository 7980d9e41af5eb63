package cli

import (
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// The roll-back of docs/OPERATIONS.md: migrate --down-to VERSION undoes the migrations
// above VERSION through their Down sections, newest first, on a database
// with data, and migrate brings them back.
func TestMigrateDownTo(t *testing.T) {
	t.Parallel()
	db := pgtest.EmptyDBURL(t)
	env := map[string]string{"DATABASE_URL": db}
	if r := runCLI(t, env, "migrate", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("migrate: %d\n%s", r.code, r.stderr)
	}
	track(t, db, []string{cliDevID(1), cliDevID(2)})
	r := runCLI(t, env, "migrate", "--down-to", "1", "--log-format", "json")
	if r.code != exitcode.OK || !strings.Contains(r.stdout, "the schema is at version 1") || strings.Contains(r.stdout, "rolled back 00001") {
		t.Fatalf("down-to 1: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "rolled back ") || lines[0] < lines[1] {
		t.Errorf("want each migration named, newest first:\n%s", r.stdout)
	}
	r = runCLI(t, env, "migrate", "status")
	if !strings.Contains(r.stdout, "00001_initial_schema.sql") || !strings.Contains(r.stdout, "00002_audit_and_views.sql                pending") {
		t.Errorf("status after down-to 1:\n%s", r.stdout)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM devices`); n != 2 {
		t.Errorf("%d tracked devices after the roll-back, want the 2", n)
	}
	if r := runCLI(t, env, "migrate", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("migrate again: %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, env, "migrate", "--down-to", "-5"); r.code != exitcode.Usage {
		t.Errorf("--down-to -5: code %d", r.code)
	}
}
