// Package pgtest owns the real PostgreSQL that tests run against: it finds or
// starts a server once per test process, builds a migrated template database
// on it, and hands each test its own database cloned from that template, which
// it drops when the test ends.
//
// The server is chosen once per process, in this order:
//
//  1. TEST_DATABASE_URL, naming a database on a server where the role may
//     CREATE DATABASE (for example postgres://postgres@127.0.0.1:5432/postgres);
//  2. a postgres:16-alpine container from testcontainers-go, where Docker answers;
//  3. a throwaway cluster that internal/localpg builds with the local initdb
//     and pg_ctl (on PATH or under /usr/lib/postgresql/*/bin), run as the
//     postgres user when the tests run as root, because PostgreSQL refuses to
//     run as root.
//
// When none of these is there, the tests that need a database are skipped with
// a loud message, or fail when CI is set: a CI run that quietly covers less is
// worse than a red one.
//
// Every test package that uses the harness must define
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// so that the container or cluster and the template database are removed when
// the tests end. DB, DBURL and EmptyDBURL fail the test if it is missing,
// rather than leave a PostgreSQL process behind.
package pgtest
