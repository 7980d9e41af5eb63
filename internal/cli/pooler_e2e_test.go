package cli

import (
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// TestRunThroughPgBouncerInTransactionMode runs the job through a real
// PgBouncer in transaction pooling mode, which refuses the job's session
// settings and keeps no session: the job finds out, runs (listing, work
// list, every batch, the lock) and stores every device once; what needs a
// session of its own (migrations) is refused at start with exit 2, saying
// what to do.
func TestRunThroughPgBouncerInTransactionMode(t *testing.T) {
	t.Parallel()
	const fleet = 1000
	sim, base := startSim(t, fleet)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	env := map[string]string{"DATABASE_URL": pgtest.PgBouncer(t, db, localpg.PgBouncerOptions{}), "WEBEX_TOKEN": cliToken}
	webex := []string{"--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json"}

	for _, args := range [][]string{{"migrate"}, {"migrate", "status"}} {
		r := runCLI(t, env, args...)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "transaction pooler") || !strings.Contains(r.stderr, "run --no-migrate") {
			t.Errorf("%v through the pooler: exit %d, want 2 saying to migrate directly\n%s", args, r.code, r.stderr)
		}
	}
	// The schema is current: run, which would migrate, has nothing to do
	// there and goes on.
	r := runCLI(t, env, append([]string{"run"}, webex...)...)
	if r.code != exitcode.OK || !strings.Contains(r.stderr, "connected through a transaction pooler") {
		t.Fatalf("run through the pooler: exit %d\n%s", r.code, r.stderr)
	}
	assertStoredOnce(t, db, fleet)
	if r := runCLI(t, env, append([]string{"run", "--no-migrate"}, webex...)...); r.code != exitcode.OK {
		t.Errorf("run --no-migrate through the pooler, unchanged: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, env, "check", "--api-url", base)
	if !strings.Contains(r.stdout+r.stderr, "through a transaction pooler") {
		t.Errorf("check through the pooler does not say so:\n%s%s", r.stdout, r.stderr)
	}

	// A database with migrations pending: run refuses at start.
	empty := map[string]string{"DATABASE_URL": pgtest.PgBouncer(t, pgtest.EmptyDBURL(t), localpg.PgBouncerOptions{}), "WEBEX_TOKEN": cliToken}
	r = runCLI(t, empty, append([]string{"run"}, webex...)...)
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "pending migrations") {
		t.Errorf("run through the pooler with migrations pending: exit %d, want 2\n%s", r.code, r.stderr)
	}
}
