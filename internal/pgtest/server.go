package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
)

// server is the PostgreSQL server this test process uses.
type server struct {
	url   string        // admin-capable connection string; may hold a password, so never print it unredacted
	desc  string        // what the server is, for the test log
	admin *pgxpool.Pool // on url; runs CREATE and DROP DATABASE
	stop  func() error  // stops what the harness started; nil for TEST_DATABASE_URL
}

// errUnavailable marks a source that is simply not there (no Docker, no
// binaries), as opposed to one that is there and broken. Only absence may
// become a skip; a broken source fails the test even outside CI, since
// skipping would hide a fault the developer can fix.
var errUnavailable = errors.New("not available")

// noServerError says that no source gave a server, and what each one said.
type noServerError struct {
	tried  []string
	broken bool // some source was present but failed
}

func (e *noServerError) Error() string {
	var b strings.Builder
	b.WriteString("\n\n*** pgtest: NO POSTGRESQL SERVER: the database tests did not run. ***\n\nTried, in order:\n")
	for _, s := range e.tried {
		b.WriteString("  - " + s + "\n")
	}
	b.WriteString(`
Provide one of:
  - TEST_DATABASE_URL=postgres://USER[:PASSWORD]@HOST:PORT/postgres, a role that may CREATE DATABASE;
  - a running Docker daemon (DOCKER_HOST, or /var/run/docker.sock);
  - PostgreSQL server binaries, initdb and pg_ctl, on PATH or under /usr/lib/postgresql/*/bin
    (Debian and Ubuntu: apt-get install postgresql).
Outside CI this is a skip when nothing was found; with CI set, or when something was found but failed, it is a failure.
`)
	return b.String()
}

// startServer picks and starts the server, in the order the package doc gives.
func startServer(ctx context.Context) (*server, error) {
	if dsn := os.Getenv("TEST_DATABASE_URL"); dsn != "" {
		// The developer named a server: use it or fail, never fall through to
		// another and test against something they did not ask for.
		s := &server{url: dsn, desc: "TEST_DATABASE_URL " + pgadmin.Redact(dsn)}
		if err := connectAdmin(ctx, s); err != nil {
			return nil, fmt.Errorf("pgtest: TEST_DATABASE_URL: %w", err)
		}
		return s, nil
	}
	none := &noServerError{tried: []string{"TEST_DATABASE_URL: not set"}}
	sources := []struct {
		name  string
		start func(context.Context) (*server, error)
	}{
		{"Docker (testcontainers-go, " + containerImage + ")", startContainer},
		{"local PostgreSQL binaries (throwaway cluster)", startCluster},
	}
	for _, src := range sources {
		s, err := src.start(ctx)
		if err == nil {
			if err = connectAdmin(ctx, s); err == nil {
				return s, nil
			}
			if s.stop != nil {
				err = errors.Join(err, s.stop())
			}
		}
		none.tried = append(none.tried, src.name+": "+err.Error())
		if !errors.Is(err, errUnavailable) {
			none.broken = true
		}
	}
	return nil, none
}

// connectAdmin opens the admin pool and checks the server answers.
func connectAdmin(ctx context.Context, s *server) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, s.url)
	if err != nil {
		return fmt.Errorf("open pool on %s: %w", pgadmin.Redact(s.url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("connect to %s: %w", pgadmin.Redact(s.url), err)
	}
	s.admin = pool
	return nil
}
