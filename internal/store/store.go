// Package store owns the job's conversation with PostgreSQL: opening the
// pool, the run bookkeeping in sync_runs, paging through the devices that are
// due, and writing fetch results with their history in batches. It knows
// nothing of HTTP. Its SQL lives in queries/*.sql, and sqlc turns it into
// typed Go in internal/dbsqlc.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// Store is the job's database access. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	db     db              // where statements run: the pool, or a run's fenced transactions on it
	q      *dbsqlc.Queries // the statements of queries/*.sql, typed by sqlc, on db
	retry  pgretry.Policy  // for idempotent statements whose connection failed
	log    *slog.Logger    // hears of statements tried again
	lease  time.Duration   // of the run locks it takes
	pooler Pooler          // PoolerSession, or PoolerTransaction: nothing in a session
	// setParams are the session defaults each connection sets after
	// connecting, for a pooler in session mode that refuses them at
	// startup; nil when they are startup parameters.
	setParams map[string]string
	lock      *RunLock // the run's, for a Fenced store

	defaultStatementTimeout bool // Open set DefaultStatementTimeout
}

// New wraps a pool. Each attempt of a statement is bounded only by its
// context and the server's statement_timeout; Open bounds it by the
// latter's length too.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, db: pool, q: dbsqlc.New(pool), retry: pgretry.Statement,
		log: slog.New(slog.DiscardHandler), lease: DefaultLease, pooler: PoolerSession}
}

// WithLease returns the Store with run locks of another length than
// DefaultLease: how long a run that stopped renewing its lock (killed, or
// cut off from the database) keeps its scope from the next run.
func (s *Store) WithLease(d time.Duration) *Store {
	c := *s
	c.lease = d
	return &c
}

// ReconnectWithin is how long a run's statement is tried again while its
// database is away (a restart, a fail-over, a network cut): past it the
// run gives up on the statement and stops.
const ReconnectWithin = 2 * time.Minute

// Fenced returns a Store for the run that holds lock: each of its
// statements runs in a transaction of its own on the pool that first checks
// the lock's lease, so that once another run has taken the scope over,
// nothing of this run commits, and a take-over waits for this run's
// transaction in flight. A statement whose connection failed is tried
// again on another, for up to ReconnectWithin: a run survives a lost
// session and a restart of the server. log hears of each retry.
func (s *Store) Fenced(lock *RunLock, log *slog.Logger) *Store {
	f := fencedDB{pool: s.pool, lock: lock}
	retry := s.retry
	retry.Tries, retry.Wait, retry.MaxWait, retry.Within = 1<<30, 100*time.Millisecond, 2*time.Second, ReconnectWithin
	return &Store{pool: s.pool, db: f, q: dbsqlc.New(f), retry: retry, log: log, lease: s.lease, lock: lock,
		pooler: s.pooler, defaultStatementTimeout: s.defaultStatementTimeout}
}

// ConnConfig is where the store connects (host, port, database, user),
// for a message or a URL to show; its password is the caller's to drop.
func (s *Store) ConnConfig() pgconn.Config { return s.pool.Config().ConnConfig.Config }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Session defaults. Each applies only where the connection string (or
// PGOPTIONS, PGCONNECT_TIMEOUT, ...) did not say otherwise: the operator's
// word wins.
const (
	DefaultApplicationName = "wxc-sync"
	// DefaultStatementTimeout bounds one statement. A batch write or a page
	// of due devices takes milliseconds; minutes mean something is wrong.
	DefaultStatementTimeout = 2 * time.Minute
	// DefaultLockTimeout bounds a wait for a table or row lock another
	// session holds (a LOCK TABLE, a long migration).
	DefaultLockTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds one connection attempt, so that a server
	// that accepts and never answers cannot hang the job.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultConnectWithin is how long Open keeps trying the first
	// connection: a database container still starting is normal under
	// compose and Kubernetes.
	DefaultConnectWithin = 20 * time.Second
)

// OpenOptions tune Open; zero values take the defaults above.
type OpenOptions struct {
	ConnectWithin time.Duration
	Logger        *slog.Logger // told about each failed first attempt
	// Pooler is what stands between the job and PostgreSQL; default
	// PoolerAuto, which finds out.
	Pooler Pooler
}

// Open connects to databaseURL and returns the Store on it. An empty URL
// means the libpq environment (PGHOST, PGUSER, ...) and its defaults, as
// pgx reads them. The first connection is retried for
// OpenOptions.ConnectWithin while the failure is one a retry can fix (the
// server is not up yet); one that no retry changes (an untrusted
// certificate, a rejected password or role, a missing database:
// pgretry.Permanent) fails at once, naming the cause. Through a
// transaction pooler (OpenOptions.Pooler, found out by default) the store
// keeps nothing in a session. The returned error never includes a
// password.
func Open(ctx context.Context, databaseURL string, o OpenOptions) (*Store, error) {
	cfg, jobSet, err := parseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	if o.ConnectWithin <= 0 {
		o.ConnectWithin = DefaultConnectWithin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Pooler == "" {
		o.Pooler = PoolerAuto
	}
	name := Describe(cfg.ConnConfig.Config)
	pooler := o.Pooler
	if pooler == PoolerTransaction {
		forTransactionPooler(cfg, jobSet)
	}
	var setParams map[string]string // set after connecting, in session mode
	pool, err := connect(ctx, cfg, o, name)
	if p := refusedParam(err); p != "" && pooler != PoolerTransaction && slices.Contains(jobSet, p) {
		// A pooler (PgBouncer) refuses the job's session defaults.
		if pooler == PoolerSession {
			setParams = setSessionDefaults(cfg, jobSet)
		} else {
			pooler = PoolerTransaction
			forTransactionPooler(cfg, jobSet)
		}
		pool, err = connect(ctx, cfg, o, name)
	}
	if p := refusedParam(err); p != "" {
		return nil, fmt.Errorf("connect to database %s: %w", name, refusedParamError(p))
	}
	if err != nil {
		return nil, err
	}
	timeouts, err := dbsqlc.New(pool).SessionTimeouts(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", name, err)
	}
	if pooler == PoolerAuto && slices.Contains(jobSet, "statement_timeout") && timeouts.StatementTimeout != DefaultStatementTimeout.Seconds() {
		// A pooler dropped the job's session defaults
		// (ignore_startup_parameters): it may well pool transactions.
		pool.Close()
		pooler = PoolerTransaction
		forTransactionPooler(cfg, jobSet)
		if pool, err = connect(ctx, cfg, o, name); err != nil {
			return nil, err
		}
	}
	if pooler == PoolerAuto {
		pooler = PoolerSession
	}
	if pooler == PoolerTransaction {
		o.Logger.LogAttrs(ctx, slog.LevelInfo, "connected through a transaction pooler: no prepared statements, no session settings, no migrations",
			slog.String("database", name), slog.Float64("statement_timeout_seconds", timeouts.StatementTimeout),
			slog.Float64("lock_timeout_seconds", timeouts.LockTimeout))
	}
	st := New(pool)
	st.log = o.Logger
	st.pooler = pooler
	st.setParams = setParams
	st.defaultStatementTimeout = pooler == PoolerSession && slices.Contains(jobSet, "statement_timeout")
	// A statement that has not answered well past the server's own
	// statement_timeout is on a connection that is gone (a dead network):
	// it is cut short and tried again on another.
	if timeouts.StatementTimeout > 0 {
		st.retry.Attempt = time.Duration(timeouts.StatementTimeout*float64(time.Second)) + attemptMargin
	}
	return st, nil
}

// connect opens a pool on cfg and makes its first connection, retried for
// o.ConnectWithin while the failure is one a retry can fix. Its error says
// what the attempts met, and never includes a password.
func connect(ctx context.Context, cfg *pgxpool.Config, o OpenOptions, name string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %w", name, err)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, o.ConnectWithin)
	defer cancel()
	var lost error // the last failure worth a retry, for the message
	// A pooler's refusal of a startup parameter is no answer a retry
	// changes, though its SQLSTATE (08P01) says "connection failure".
	retryable := func(err error) bool {
		var r refused
		return !errors.As(err, &r) && pgretry.Transient(err)
	}
	err = pgretry.Do(cctx, pgretry.Policy{Tries: 1 << 20, Wait: 250 * time.Millisecond, MaxWait: 2 * time.Second, Retryable: retryable},
		func(ctx context.Context) error {
			err := pool.Ping(ctx)
			if err != nil && pgretry.Transient(err) && refusedParam(err) == "" {
				level := slog.LevelDebug
				if lost == nil {
					level = slog.LevelWarn // once; the rest at debug
				}
				lost = err
				o.Logger.LogAttrs(ctx, level, "database not reachable yet; retrying",
					slog.String("database", name),
					slog.Float64("for_up_to_seconds", o.ConnectWithin.Seconds()), slog.String("error", oneLine(err)))
			}
			if refusedParam(err) != "" {
				return refused{err} // a pooler's answer: another try gets the same
			}
			return err
		})
	if err == nil {
		return pool, nil
	}
	pool.Close()
	var r refused
	switch {
	case errors.As(err, &r):
		return nil, r.err
	case ctx.Err() != nil:
		return nil, fmt.Errorf("connect to database %s: %w", name, context.Cause(ctx))
	case pgretry.Permanent(err):
		return nil, fmt.Errorf("connect to database %s: %s: %w", name, refusal(err), oneLineError{err})
	case pgretry.Transient(err) || errors.Is(err, context.DeadlineExceeded):
		if lost != nil {
			err = lost // the deadline cut the last attempt short: say what the others met
		}
		return nil, fmt.Errorf("connect to database %s: not reachable within %s: %w",
			name, time.Since(start).Round(time.Second), oneLineError{err})
	}
	return nil, fmt.Errorf("connect to database %s: %w", name, oneLineError{err})
}

// refused is a pooler's refusal of a startup parameter, which no retry
// changes.
type refused struct{ err error }

func (r refused) Error() string { return r.err.Error() }
func (r refused) Unwrap() error { return r.err }

// attemptMargin is how long past the server's statement_timeout a
// statement may go unanswered before its connection counts as gone: the
// server's cancellation and its answer need the time to arrive.
const attemptMargin = 10 * time.Second

// refusal says in a few words why the server would not take a connection
// (err is pgretry.Permanent); the error itself follows with the details.
func refusal(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "28P01":
		return "the server rejected the password"
	case errors.As(err, &pe) && strings.HasPrefix(pe.Code, "28"):
		return "the server refused the role"
	case errors.As(err, &pe) && pe.Code == "3D000":
		return "the database does not exist"
	case errors.As(err, &pe):
		return "the role may not connect to the database"
	case strings.Contains(err.Error(), "server refused TLS connection"):
		return "the server does not offer TLS, which sslmode requires"
	}
	return "the server's TLS certificate is not trusted (sslmode verify-ca or verify-full: check sslrootcert and the host name)"
}

// MigrationPool opens a small second pool for applying migrations. A
// migration may rewrite a large table, which the job's default
// statement_timeout, meant for its own statements, must not cut short and
// so fail every run from then on; a statement_timeout the connection string
// set still applies, as does lock_timeout. The caller closes it.
func (s *Store) MigrationPool(ctx context.Context) (*pgxpool.Pool, error) {
	cfg := s.pool.Config() // a copy
	switch {
	case s.defaultStatementTimeout && s.setParams != nil:
		set := maps.Clone(s.setParams)
		set["statement_timeout"] = "0"
		setAfterConnect(cfg, set)
	case s.defaultStatementTimeout:
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "0"
	}
	cfg.MaxConns = 2
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %w", Describe(cfg.ConnConfig.Config), err)
	}
	return pool, nil
}

// ParseConfig reads databaseURL into a pool configuration with the job's
// session defaults applied where the URL set none (river's
// setParamIfUnset). Its error never quotes the URL.
func ParseConfig(databaseURL string) (*pgxpool.Config, error) {
	cfg, _, err := parseConfig(databaseURL)
	return cfg, err
}

// parseConfig is ParseConfig, and which of sessionParams the job set.
func parseConfig(databaseURL string) (*pgxpool.Config, []string, error) {
	if scheme, ok := urlScheme(databaseURL); ok && scheme != "postgres" && scheme != "postgresql" {
		// pgx would read it as keyword/value and fail on that, quoting the
		// URL with its user masked as if it were a password.
		return nil, nil, fmt.Errorf("%s: scheme %q is neither postgres:// nor postgresql://", notADatabaseURL, scheme)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors can quote the URL; say only what is wrong.
		return nil, nil, fmt.Errorf("%s: %s", notADatabaseURL, redactParseError(err))
	}
	cc := cfg.ConnConfig
	// A statement whose context ends is cancelled by the server, as psql's
	// ^C does, rather than by closing the connection (pgx's default), which
	// would leave a statement waiting on a lock to run on until the server
	// notices. If the server does not answer the cancel request within a
	// few seconds, the connection is closed after all.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	setParamIfUnset(cc.RuntimeParams, "application_name", DefaultApplicationName)
	var jobSet []string
	if setParamIfUnset(cc.RuntimeParams, "statement_timeout", millis(DefaultStatementTimeout)) {
		jobSet = append(jobSet, "statement_timeout")
	}
	if setParamIfUnset(cc.RuntimeParams, "lock_timeout", millis(DefaultLockTimeout)) {
		jobSet = append(jobSet, "lock_timeout")
	}
	if cc.ConnectTimeout <= 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, jobSet, nil
}

// setParamIfUnset sets a session parameter unless the connection string set
// it, directly or in its options (-c name=value), and says whether it did.
func setParamIfUnset(params map[string]string, name, value string) bool {
	if _, ok := params[name]; ok {
		return false
	}
	if opts := params["options"]; strings.Contains(opts, name+"=") || strings.Contains(opts, strings.ReplaceAll(name, "_", "-")+"=") {
		return false
	}
	params[name] = value
	return true
}

func millis(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }

// oneLine folds pgx's multi-line connect errors (one line per attempt:
// each address, and with sslmode=prefer each address with and without TLS)
// into one line, for a log field or an error message, saying each
// different failure once.
func oneLine(err error) string {
	head, rest, multi := strings.Cut(err.Error(), ":\n\t")
	if !multi {
		return head
	}
	var attempts []string
	for _, a := range strings.Split(rest, "\n\t") {
		if !slices.Contains(attempts, a) {
			attempts = append(attempts, a)
		}
	}
	return head + ": " + strings.Join(attempts, "; ")
}

// oneLineError is err, printed on one line.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return oneLine(e.err) }
func (e oneLineError) Unwrap() error { return e.err }

// Describe names a database for a log line or an error: host, port,
// database and user, never the password.
func Describe(c pgconn.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

const notADatabaseURL = "not a PostgreSQL URL or keyword/value string"

// urlScheme is the scheme of s when s is written as a URL (scheme://...).
func urlScheme(s string) (string, bool) {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return "", false
	}
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return "", false // a keyword/value string with "://" in a value
		}
	}
	return scheme, true
}

// redactParseError says what is wrong with a database URL without quoting
// it: the URL may hold a password, and pgx's own redaction is best effort.
func redactParseError(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "unparseable"
	}
	var ue *url.Error
	if errors.As(pe.Unwrap(), &ue) {
		return ue.Err.Error() // url.Error quotes the whole URL
	}
	// pgx's text is "cannot parse `<the string, redacted>`: <what is
	// wrong>"; keep only what is wrong.
	msg := pe.Error()
	i := strings.LastIndex(msg, "`: ")
	if i < 0 || (pe.ConnString != "" && strings.Contains(msg[i+3:], pe.ConnString)) {
		return "check its syntax"
	}
	return msg[i+3:]
}

// cleanText makes s storable as PostgreSQL text: valid UTF-8 without NUL.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
