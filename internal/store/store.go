// Package store owns the job's conversation with PostgreSQL: opening the
// pool, the run bookkeeping in sync_runs, paging through the devices that are
// due, and writing fetch results with their history in batches. It knows
// nothing of HTTP; its SQL lives in the queries package.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the job's database access. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Open connects to databaseURL. An empty URL means the libpq environment
// (PGHOST, PGUSER, ...) and its defaults, as pgx reads them. The returned
// error never includes a password.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors can quote the URL; say only what is wrong.
		return nil, fmt.Errorf("database URL is not valid: %s", redactParseError(err))
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "wxc-sync"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", Describe(cfg.ConnConfig.Config), err)
	}
	return pool, nil
}

// Describe names a database for a log line or an error: host, port,
// database and user, never the password.
func Describe(c pgconn.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// redactParseError says what is wrong with a database URL without quoting
// it: the URL may hold a password, and pgx's own redaction is best effort.
func redactParseError(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "unparseable"
	}
	inner := pe.Unwrap()
	var ue *url.Error
	if errors.As(inner, &ue) {
		inner = ue.Err // url.Error quotes the whole URL
	}
	if inner == nil || (pe.ConnString != "" && strings.Contains(inner.Error(), pe.ConnString)) {
		return "check its syntax"
	}
	return inner.Error()
}

// cleanText makes s storable as PostgreSQL text: valid UTF-8 without NUL.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
