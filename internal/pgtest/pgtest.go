package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

var (
	// mainRan is set by Main. Without Main nothing would stop the container or
	// cluster, so the harness refuses to start one.
	mainRan atomic.Bool

	serverOnce sync.Once
	srv        *server
	srvErr     error

	templateOnce sync.Once
	templateName string
	templateErr  error

	// skipped counts the tests skipped for want of a server, for Main's
	// summary: a skip's message alone shows only under -v.
	skipped atomic.Int64

	// createMu serialises CREATE DATABASE within the process: clones of one
	// template taken at the same moment can trip over each other's hold on it.
	createMu sync.Mutex
	dbSeq    atomic.Int64

	// namePrefix makes this process's database names unique on a server
	// shared with the other test packages that go test runs at the same time.
	namePrefix = fmt.Sprintf("pgtest_%d_%s", os.Getpid(), randomHex(4))
)

// DB returns a pool on a fresh, isolated, fully migrated database for this
// test, dropped at cleanup.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := DBURL(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool on %s: %v", pgadmin.Redact(dsn), err)
	}
	// Registered after DBURL's drop, so it runs before it: the pool is closed
	// before its database goes.
	t.Cleanup(pool.Close)
	return pool
}

// DBURL is the same as DB but returns the connection string of the fresh
// database, for code under test that opens its own pool (a CLI run, say).
func DBURL(t testing.TB) string {
	t.Helper()
	s := requireServer(t)
	templateOnce.Do(func() {
		start := time.Now()
		templateName, templateErr = buildTemplate(s)
		if templateErr == nil {
			t.Logf("pgtest: migrated template %s built in %s", templateName, time.Since(start).Round(time.Millisecond))
		}
	})
	if templateErr != nil {
		t.Fatalf("pgtest: %v", templateErr)
	}
	return clone(t, s, templateName)
}

// EmptyDBURL returns the connection string of a fresh database with no
// migrations applied, for tests of the migrations themselves. It is cloned
// from template0, which accepts no connections and so can always be copied,
// and which holds nothing a server's administrator added to template1.
func EmptyDBURL(t testing.TB) string {
	t.Helper()
	return clone(t, requireServer(t), "template0")
}

// Main runs the tests and then removes what the harness started: the template
// database, and the container or cluster. Use it as
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// after runs once the tests have finished, before the harness tears down,
// for a package's own clean-up (a binary it built, say).
func Main(m *testing.M, after ...func()) {
	mainRan.Store(true)
	code := m.Run()
	for _, f := range after {
		f()
	}
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "pgtest: SKIPPED %d tests: no PostgreSQL server (run with -v to see what was tried)\n", n)
	}
	if err := teardown(); err != nil {
		// The tests have already reported; a teardown failure leaves at most
		// a stray database or directory behind, which is worth a line but not
		// a red run.
		fmt.Fprintf(os.Stderr, "pgtest: teardown: %v\n", err)
	}
	os.Exit(code)
}

// requireServer returns the process's server, starting it on first use, and
// skips or fails the test when there is none.
func requireServer(t testing.TB) *server {
	t.Helper()
	if !mainRan.Load() {
		t.Fatal("pgtest: this test package has no TestMain calling pgtest.Main; add\n\n" +
			"\tfunc TestMain(m *testing.M) { pgtest.Main(m) }\n\n" +
			"so that the database server the harness starts is stopped when the tests end")
	}
	serverOnce.Do(func() {
		start := time.Now()
		srv, srvErr = startServer(context.Background())
		if srvErr == nil {
			t.Logf("pgtest: using %s (ready in %s)", srv.desc, time.Since(start).Round(time.Millisecond))
		}
	})
	if srvErr != nil {
		var none *noServerError
		if errors.As(srvErr, &none) && !none.broken && os.Getenv("CI") == "" {
			skipped.Add(1)
			t.Skip(srvErr.Error())
		}
		t.Fatal(srvErr.Error())
	}
	return srv
}

// clone creates a database from template, registers its drop, and returns
// its connection string.
func clone(t testing.TB, s *server, template string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", namePrefix, dbSeq.Add(1))
	dsn, err := pgadmin.WithDatabase(s.url, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	createMu.Lock()
	err = pgadmin.CreateDatabase(ctx, s.admin, name, template)
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgadmin.DropDatabase(ctx, s.admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	t.Logf("pgtest: database %s", name)
	return dsn
}

// buildTemplate creates the process's migrated template database.
func buildTemplate(s *server) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tpl, err := pgadmin.NewTemplate(ctx, s.admin, s.url, namePrefix, migrations.Up)
	if err != nil {
		return "", err
	}
	return tpl.Name(), nil
}

// teardown drops the template and stops the server, if this process used one.
func teardown() error {
	if srv == nil {
		return nil
	}
	var errs []error
	if templateName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs = append(errs, pgadmin.DropDatabase(ctx, srv.admin, templateName))
		cancel()
	}
	srv.admin.Close()
	if srv.stop != nil {
		errs = append(errs, srv.stop())
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
