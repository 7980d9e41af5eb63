package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// TestOpenThroughPoolers runs a whole run's statements through real
// PgBouncers in each pooling mode and behaviour, and directly: Open finds
// what it needs to know (or is told), and the run works. Through a
// transaction pooler pgx's prepared-statement cache would fail (a
// statement prepared on one server connection is unknown on the next),
// and a migration is refused.
func TestOpenThroughPoolers(t *testing.T) {
	t.Parallel()
	ignore := []string{"statement_timeout", "lock_timeout"}
	tests := []struct {
		name   string
		bounce *localpg.PgBouncerOptions // nil: a direct connection
		told   store.Pooler
		want   store.Pooler
		// the session's statement_timeout: the job's default where it
		// could set it, else the server's (none here)
		wantTimeout time.Duration
	}{
		{"direct", nil, store.PoolerAuto, store.PoolerSession, 2 * time.Minute},
		{"transaction pooler that refuses session settings", &localpg.PgBouncerOptions{}, store.PoolerAuto, store.PoolerTransaction, 0},
		{"transaction pooler that drops session settings", &localpg.PgBouncerOptions{IgnoreStartupParameters: ignore}, store.PoolerAuto, store.PoolerTransaction, 0},
		{"transaction pooler, told", &localpg.PgBouncerOptions{}, store.PoolerTransaction, store.PoolerTransaction, 0},
		{"session pooler, taken for a transaction pooler", &localpg.PgBouncerOptions{PoolMode: "session"}, store.PoolerAuto, store.PoolerTransaction, 0},
		{"session pooler, told", &localpg.PgBouncerOptions{PoolMode: "session"}, store.PoolerSession, store.PoolerSession, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.DBURL(t)
			if tt.bounce != nil {
				db = pgtest.PgBouncer(t, db, *tt.bounce)
			}
			st, err := store.Open(ctx, db, store.OpenOptions{Pooler: tt.told})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.Pooler() != tt.want {
				t.Errorf("Pooler() = %s, want %s", st.Pooler(), tt.want)
			}
			if timeout, _, err := st.Timeouts(ctx); err != nil || timeout != tt.wantTimeout {
				t.Errorf("statement_timeout %s (%v), want %s", timeout, err, tt.wantTimeout)
			}
			if tt.want == store.PoolerSession {
				// Migrations run without the job's statement_timeout,
				// however it was set.
				mp, err := st.MigrationPool(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var mt string
				err = mp.QueryRow(ctx, "SHOW statement_timeout").Scan(&mt)
				mp.Close()
				if err != nil || mt != "0" {
					t.Errorf("migrations' statement_timeout %q (%v), want 0", mt, err)
				}
			}
			runThrough(t, st)
			n, err := st.Migrate(ctx, nil)
			if err != nil || n != 0 {
				t.Errorf("Migrate with nothing pending: %d, %v; want 0, nil", n, err)
			}
			_, err = st.MigrateDownTo(ctx, 1, nil)
			if tt.want == store.PoolerTransaction && !errors.Is(err, store.ErrNeedsSession) {
				t.Errorf("MigrateDownTo through a transaction pooler: %v, want ErrNeedsSession", err)
			}
		})
	}
}

// runThrough drives a small run through st with several statements at
// once, as a run does.
func runThrough(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.TrackDevices(ctx, []store.NewDevice{{ID: "dev-1"}, {ID: "dev-2"}, {ID: "dev-3"}, {ID: "dev-4"}}, false); err != nil {
		t.Fatal(err)
	}
	l, err := st.LockRun(ctx, store.All, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fenced := st.Fenced(l, quiet)
	run, err := fenced.StartRun(ctx, store.All, store.DetectNone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fenced.QueueDue(ctx, &run, store.DueOptions{}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 { // several connections of the pool, each statement on any of them
		go func() {
			errs <- fenced.DueDevices(ctx, run, 2, func(d store.DueDevice) error {
				_, err := fenced.ApplyResults(ctx, run.ID, []store.Result{{DeviceID: d.ID, Outcome: store.OutcomeNotFound}})
				return err
			})
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c, err := fenced.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded})
	if err != nil || c.NotFound != 4 {
		t.Fatalf("FinishRun: %+v, %v; want the 4 devices", c, err)
	}
}

// TestOpenNamesASettingThePoolerRefuses: a statement_timeout the connection
// string sets, which PgBouncer refuses, is named with what to do; the job's
// own defaults it drops by itself.
func TestOpenNamesASettingThePoolerRefuses(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.PgBouncer(t, pgtest.DBURL(t), localpg.PgBouncerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("statement_timeout", "5000")
	u.RawQuery = q.Encode()
	_, err = store.Open(context.Background(), u.String(), store.OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "refuses the connection string's statement_timeout") || !strings.Contains(err.Error(), "ALTER ROLE") {
		t.Errorf("Open: %v, want the refused statement_timeout named, with what to do", err)
	}
}
