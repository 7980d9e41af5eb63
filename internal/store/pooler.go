package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// Pooler is what stands between the job and PostgreSQL, as far as the job
// must know: whether each of its connections is a session of its own.
type Pooler string

const (
	// PoolerAuto finds out when connecting (Open): a pooler that refuses
	// the job's session settings (PgBouncer's "unsupported startup
	// parameter"), or drops them (ignore_startup_parameters), is taken for
	// a transaction pooler.
	PoolerAuto Pooler = "auto"
	// PoolerSession: every connection is a session of its own (a direct
	// connection, or a pooler in session mode).
	PoolerSession Pooler = "session"
	// PoolerTransaction: a pooler in transaction mode (PgBouncer's
	// pool_mode=transaction, as many managed PostgreSQL services put in
	// front): nothing may outlive a transaction, so the job uses no
	// prepared statements (pgx's cache_describe), sets no session
	// parameters, and does not migrate (goose's lock is a session's).
	PoolerTransaction Pooler = "transaction"
)

// ParsePooler reads auto, session or transaction.
func ParsePooler(s string) (Pooler, error) {
	switch p := Pooler(s); p {
	case PoolerAuto, PoolerSession, PoolerTransaction:
		return p, nil
	}
	return "", fmt.Errorf("%q: want auto, session or transaction", s)
}

// ErrNeedsSession is returned (wrapped) for work that needs a database
// session of its own, which a transaction pooler does not keep: applying
// migrations (goose holds a session advisory lock while it migrates).
var ErrNeedsSession = errors.New("this needs a direct connection to PostgreSQL, not one through a transaction pooler")

// Pooler says how the store reaches PostgreSQL: PoolerSession or
// PoolerTransaction, as Open found or was told.
func (s *Store) Pooler() Pooler { return s.pooler }

// sessionParams are the job's session defaults that a pooler may refuse
// or drop; application_name PgBouncer passes on.
var sessionParams = []string{"statement_timeout", "lock_timeout"}

// forTransactionPooler configures cfg for a transaction pooler: pgx's
// prepared-statement cache cannot work there (a statement prepared on one
// server connection is unknown on the next), so statements are described
// once and sent unnamed (cache_describe), unless the connection string
// chose another mode than the default; and the job's session defaults in
// jobSet go, since the pooler would refuse or drop them.
func forTransactionPooler(cfg *pgxpool.Config, jobSet []string) {
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	for _, p := range jobSet {
		delete(cfg.ConnConfig.RuntimeParams, p)
	}
}

// setSessionDefaults has each new connection set the job's session
// defaults in jobSet itself, for a pooler in session mode that refuses them
// as startup parameters, and returns what it sets.
func setSessionDefaults(cfg *pgxpool.Config, jobSet []string) map[string]string {
	set := map[string]string{"statement_timeout": "0", "lock_timeout": "0"}
	for _, p := range sessionParams {
		if v, ok := cfg.ConnConfig.RuntimeParams[p]; ok {
			set[p] = v
		}
	}
	for _, p := range jobSet {
		delete(cfg.ConnConfig.RuntimeParams, p)
	}
	setAfterConnect(cfg, set)
	return set
}

// setAfterConnect has each new connection of cfg set the timeouts in set.
func setAfterConnect(cfg *pgxpool.Config, set map[string]string) {
	st, lt := set["statement_timeout"], set["lock_timeout"]
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return dbsqlc.New(conn).SetSessionTimeouts(ctx, st, lt)
	}
}

// refusedParam is the startup parameter the server (a pooler: PostgreSQL
// takes every setting) refused, from PgBouncer's "unsupported startup
// parameter: NAME", or "".
func refusedParam(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	name, ok := strings.CutPrefix(pe.Message, "unsupported startup parameter: ")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, "=")
	return strings.TrimSpace(name)
}

// refusedParamError says what to do about a parameter of the connection
// string that a pooler refuses: the job's own defaults it drops by itself.
func refusedParamError(name string) error {
	advice := "leave it out of the connection string"
	if slices.Contains(sessionParams, name) {
		advice = fmt.Sprintf("set it on the role instead (ALTER ROLE ... SET %s = ...), or list it in the pooler's ignore_startup_parameters", name)
	}
	return fmt.Errorf("a connection pooler in front of the database refuses the connection string's %s: %s", name, advice)
}

// Timeouts are the statement_timeout and lock_timeout a connection of the
// store runs with (0: none): the connection string's, the job's defaults,
// or, through a pooler that does not pass them on, the server's or the
// role's.
func (s *Store) Timeouts(ctx context.Context) (statement, lock time.Duration, err error) {
	var t dbsqlc.SessionTimeoutsRow
	err = s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		t, err = dbsqlc.New(s.pool).SessionTimeouts(ctx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read the session's timeouts: %w", err)
	}
	return time.Duration(t.StatementTimeout * float64(time.Second)), time.Duration(t.LockTimeout * float64(time.Second)), nil
}
