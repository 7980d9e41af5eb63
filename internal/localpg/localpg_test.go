package localpg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requireBinaries skips the test when there are no PostgreSQL binaries, or
// fails it when CI is set: a CI run that quietly covers less is worse than a
// red one.
func requireBinaries(t *testing.T) string {
	t.Helper()
	binDir, err := Available()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the local PostgreSQL binaries are missing:\n%v", err)
		}
		t.Skipf("SKIPPED: no local PostgreSQL binaries (set CI to make this a failure):\n%v", err)
	}
	return binDir
}

func TestStartConnectStop(t *testing.T) {
	t.Parallel()
	binDir := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	t.Logf("cluster from %s in %s at %s", binDir, c.dir, c.URL())
	if !strings.HasPrefix(filepath.Base(c.dir), dirPrefix) {
		t.Errorf("cluster directory %s lacks the prefix %s that the stale sweep looks for", c.dir, dirPrefix)
	}
	if !strings.HasPrefix(c.URL(), "postgres://postgres@127.0.0.1:") {
		t.Errorf("URL() = %q, want postgres://postgres@127.0.0.1:PORT/...", c.URL())
	}

	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", c.URL(), err)
	}
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatalf("select 1: %v", err)
	}
	if one != 1 {
		t.Errorf("select 1 = %d", one)
	}
	var encoding, collate string
	if err := conn.QueryRow(ctx, "select pg_encoding_to_char(encoding), datcollate from pg_database where datname = current_database()").Scan(&encoding, &collate); err != nil {
		t.Fatalf("query encoding: %v", err)
	}
	if encoding != "UTF8" || collate != "C" {
		t.Errorf("encoding %s, collation %s; want UTF8, C", encoding, collate)
	}
	if err := conn.Close(ctx); err != nil {
		t.Errorf("close connection: %v", err)
	}

	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there after Stop (stat: %v)", c.dir, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestSweepStale checks that Start removes a cluster whose owner died.
func TestSweepStale(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dead, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer dead.Stop()
	// Hand it to a pid that no process has: pid_max is at most 2^22.
	if err := os.WriteFile(filepath.Join(dead.dir, "owner.pid"), []byte("4194305"), 0o644); err != nil {
		t.Fatalf("fake a dead owner: %v", err)
	}

	c, err := Start(ctx)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer c.Stop()
	if _, err := os.Stat(dead.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale cluster directory %s survived the next Start (stat: %v)", dead.dir, err)
	}
	if _, err := os.Stat(c.dir); err != nil {
		t.Errorf("the new cluster's directory: %v", err)
	}
}

// TestAvailableMissing checks the error for missing binaries says where it
// looked and how to fix it.
func TestAvailableMissing(t *testing.T) {
	// Not parallel: it changes PATH and installGlob.
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	old := installGlob
	installGlob = filepath.Join(empty, "postgresql", "*", "bin")
	defer func() { installGlob = old }()

	binDir, err := Available()
	if err == nil {
		t.Fatalf("Available() = %q, nil; want an error", binDir)
	}
	msg := err.Error()
	t.Logf("Available() error:\n%s", msg)
	for _, want := range []string{empty, installGlob, "initdb", "pg_ctl", "install", "DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	searched := errors.Unwrap(err)
	if searched == nil {
		t.Fatal("errors.Unwrap(err) = nil, want what was searched alone")
	}
	if s := searched.Error(); !strings.Contains(s, installGlob) || strings.Contains(s, "DATABASE_URL") {
		t.Errorf("errors.Unwrap(err) = %q, want the search without the advice", s)
	}
	if _, err := Start(context.Background()); err == nil || err.Error() != msg {
		t.Errorf("Start error = %v, want the same as Available's", err)
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"9.6", "10", -1},
		{"10", "15", -1},
		{"16", "15", 1},
		{"15", "15", 0},
		{"9.6", "9.5", 1},
	} {
		got := compareVersions(tc.a, tc.b)
		if (got < 0 && tc.sign >= 0) || (got > 0 && tc.sign <= 0) || (got == 0 && tc.sign != 0) {
			t.Errorf("compareVersions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}
