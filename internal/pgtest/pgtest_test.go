package pgtest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDBParallel runs tests in parallel, as every package does, and checks
// each got its own migrated database holding only its own writes.
func TestDBParallel(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	names := map[string]string{} // database -> test
	for i := range 4 {
		t.Run(fmt.Sprintf("test%d", i), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.DB(t)
			name := currentDatabase(t, pool)
			mu.Lock()
			other, dup := names[name]
			names[name] = t.Name()
			mu.Unlock()
			if dup {
				t.Fatalf("database %s handed to both %s and %s", name, other, t.Name())
			}

			if !hasDevices(t, pool) {
				t.Fatal("devices table missing: database is not migrated")
			}
			id := "device-" + t.Name()
			if _, err := pool.Exec(ctx, "INSERT INTO devices (device_id) VALUES ($1)", id); err != nil {
				t.Fatalf("insert: %v", err)
			}
			if got, want := deviceIDs(t, pool), []string{id}; !slices.Equal(got, want) {
				t.Errorf("devices = %q, want %q", got, want)
			}
		})
	}
}

// TestDBIsolated checks two databases of one test deterministically, without
// relying on the scheduler to overlap parallel tests.
func TestDBIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pgtest.DB(t), pgtest.DB(t)
	if na, nb := currentDatabase(t, a), currentDatabase(t, b); na == nb {
		t.Fatalf("both pools are on database %s", na)
	}
	if _, err := a.Exec(ctx, "INSERT INTO devices (device_id) VALUES ('only-in-a')"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if got, want := deviceIDs(t, a), []string{"only-in-a"}; !slices.Equal(got, want) {
		t.Errorf("a: devices = %q, want %q", got, want)
	}
	if got := deviceIDs(t, b); len(got) != 0 {
		t.Errorf("b sees a's writes: devices = %q", got)
	}
}

// TestDBDroppedAtCleanup checks a test's database is gone once it ends.
func TestDBDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		name = currentDatabase(t, pgtest.DB(t))
	})
	if name == "" {
		t.Skip("subtest did not get a database")
	}
	var exists bool
	if err := pgtest.DB(t).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("query pg_database: %v", err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// TestDBURL checks the connection string reaches a migrated database other
// than the one it was cloned from or the server's default.
func TestDBURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.DBURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var name string
	var devices *string
	if err := conn.QueryRow(ctx, "SELECT current_database(), to_regclass('public.devices')::text").Scan(&name, &devices); err != nil {
		t.Fatalf("query: %v", err)
	}
	if !strings.HasPrefix(name, "pgtest_") || strings.HasSuffix(name, "_tpl") {
		t.Errorf("connected to %s, want a per-test pgtest_ database", name)
	}
	if devices == nil {
		t.Error("devices table missing: database is not migrated")
	}
}

// TestEmptyDBURL checks the empty database has no schema, and that the
// migrations apply to it, which is what migration tests will do.
func TestEmptyDBURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.EmptyDBURL(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	defer pool.Close()
	if hasDevices(t, pool) {
		t.Fatal("devices table exists in the empty database")
	}
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("migrate the empty database: %v", err)
	}
	if !hasDevices(t, pool) {
		t.Error("devices table missing after migrating the empty database")
	}
}

func currentDatabase(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatalf("current_database: %v", err)
	}
	return name
}

func hasDevices(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass('public.devices') IS NOT NULL").Scan(&ok); err != nil {
		t.Fatalf("to_regclass: %v", err)
	}
	return ok
}

func deviceIDs(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), "SELECT device_id FROM devices ORDER BY device_id")
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read devices: %v", err)
	}
	return ids
}
