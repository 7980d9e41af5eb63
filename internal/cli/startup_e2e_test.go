package cli

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// TestRunBudgetCoversAStartBlockedByTheDatabase holds LOCK TABLE devices,
// as a long migration or an operator might, and runs with a budget: the run
// gives up within its budget, while the lock is still held, instead of
// waiting for it and then recording a short run.
func TestRunBudgetCoversAStartBlockedByTheDatabase(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 5)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE devices IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	defer func() {
		released.Store(true)
		_ = tx.Rollback(ctx)
	}()

	r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken},
		"run", "--api-url", base, "--max-duration", "1s", "--log-format", "json")
	if released.Load() {
		t.Fatal("the run returned only after the lock was released")
	}
	if r.code != exitcode.Failed || !strings.Contains(r.stderr, "time budget ran out before the run") {
		t.Errorf("code %d, want 1 saying the budget ran out before the run started\n%s", r.code, r.stderr)
	}
	// Nothing happened, and nothing claims it did.
	var runs int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM sync_runs").Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != 0 {
		t.Errorf("%d runs recorded, want none", runs)
	}
}

// silentServer accepts connections and never answers, and reports each
// connection it accepts.
func silentServer(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 100)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), ch
}

// TestRunAgainstASilentServer covers a database that accepts connections
// and never answers: the budget ends the start-up (exit 1), and a signal
// during it is an interruption (exit 4), as in every other phase.
func TestRunAgainstASilentServer(t *testing.T) {
	t.Parallel()
	_, base := startSim(t, 1)
	t.Run("budget", func(t *testing.T) {
		t.Parallel()
		addr, _ := silentServer(t)
		r := runCLI(t, map[string]string{"DATABASE_URL": "postgres://u@" + addr + "/db", "WEBEX_TOKEN": cliToken},
			"run", "--api-url", base, "--max-duration", "1s", "--log-format", "json")
		if r.code != exitcode.Failed || !strings.Contains(r.stderr, "time budget ran out before the run") {
			t.Errorf("code %d, want 1 saying the budget ran out\n%s", r.code, r.stderr)
		}
	})
	t.Run("signal", func(t *testing.T) {
		t.Parallel()
		addr, accepted := silentServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-accepted // the run is connecting
			cancel()
		}()
		var stdout, stderr bytes.Buffer
		err := Run(ctx, []string{"run", "--api-url", base, "--log-format", "json"},
			envMap(map[string]string{"DATABASE_URL": "postgres://u@" + addr + "/db", "WEBEX_TOKEN": cliToken}), &stdout, &stderr)
		if code := exitcode.Of(err); code != exitcode.Interrupted {
			t.Errorf("exit code %d, want %d (interrupted): %v\n%s", code, exitcode.Interrupted, err, stderr.String())
		}
	})
}

// TestAWrongDatabaseRoleIsOneLine: pgx reports each connection attempt on
// a line of its own (with sslmode=prefer, the same refusal twice); the
// error is one line that says the refusal once, with no escaped tab.
func TestAWrongDatabaseRoleIsOneLine(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.DBURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("wxc_no_such_role")
	r := runCLI(t, map[string]string{"DATABASE_URL": u.String()}, "migrate", "--log-format", "json")
	msg := Message(r.err)
	if r.code != exitcode.Failed || strings.Count(msg, `role "wxc_no_such_role" does not exist`) != 1 ||
		strings.Contains(msg, "\n") || strings.Contains(msg, `\t`) {
		t.Errorf("exit %d, message %q: want exit 1 and one line naming the role once", r.code, msg)
	}
}
