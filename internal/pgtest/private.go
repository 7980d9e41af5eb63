package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// NeedServerBinaries ends the test unless the local PostgreSQL server
// binaries (initdb, postgres, pg_ctl) are there: a loud skip, or a
// failure when CI is set. need says who needs them, for the message.
func NeedServerBinaries(t testing.TB, need string) {
	t.Helper()
	if _, err := localpg.Available(); err != nil {
		unavailable(t, need, err)
	}
}

// unavailable ends a test whose program err says is missing: skipped,
// loudly, and counted for Main's summary; with CI set a failure, since a
// CI run that quietly covers less is worse than a red one.
func unavailable(t testing.TB, need string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("pgtest: %s: %v", need, err)
	}
	skipped.Add(1)
	t.Skipf("SKIPPED: %s: %v", need, err)
}

// PrivateServer starts a throwaway cluster of the test's own, from the
// local PostgreSQL binaries, for a test that restarts its server or changes
// its authentication or TLS, which the shared server must not see. It is
// stopped and removed at cleanup. Without the binaries the test is skipped,
// loudly, or fails when CI is set.
func PrivateServer(t testing.TB) *localpg.Cluster {
	t.Helper()
	NeedServerBinaries(t, "this test needs a private PostgreSQL server from local binaries")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localpg.Start(ctx)
	if err != nil {
		t.Fatalf("pgtest: start a private server: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: stop the private server: %v", err)
		}
	})
	return c
}

// MigratedDB creates a database named name on the private server c,
// applies the migrations to it, and returns its connection string.
func MigratedDB(t testing.TB, c *localpg.Cluster, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgxpool.New(ctx, c.URL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	if err := pgadmin.CreateDatabase(ctx, admin, name, ""); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dsn, err := pgadmin.WithDatabase(c.URL(), name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("pgtest: migrate %s: %v", name, err)
	}
	return dsn
}

// PgBouncer starts a PgBouncer of the test's own in front of dbURL's
// server (transaction pooling unless o says otherwise), stopped at
// cleanup, and returns dbURL through it. Without pgbouncer installed the
// test is skipped, loudly, or fails when CI is set.
func PgBouncer(t testing.TB, dbURL string, o localpg.PgBouncerOptions) string {
	t.Helper()
	if _, err := localpg.PgBouncerAvailable(); err != nil {
		unavailable(t, "this test needs PgBouncer", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := localpg.StartPgBouncer(ctx, dbURL, o)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("pgtest: stop pgbouncer: %v", err)
		}
	})
	through, err := b.URL(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return through
}
