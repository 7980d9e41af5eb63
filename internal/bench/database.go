package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/migrations"
)

// Server makes fresh databases on one PostgreSQL server: each measurement
// gets its own, cloned from a template migrated once, and dropped after.
type Server struct {
	admin    *pgxpool.Pool
	adminURL string
	template string
	prefix   string
	seq      atomic.Int64
}

// OpenServer connects to adminURL, whose role may CREATE DATABASE, and
// builds the migrated template.
func OpenServer(ctx context.Context, adminURL string) (*Server, error) {
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	s := &Server{admin: admin, adminURL: adminURL, prefix: fmt.Sprintf("wxc_bench_%d", os.Getpid())}
	s.template = s.prefix + "_tpl"
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.template}.Sanitize()+" TEMPLATE template0"); err != nil {
		admin.Close()
		return nil, err
	}
	pool, err := pgxpool.New(ctx, withDatabase(adminURL, s.template))
	if err == nil {
		err = migrations.Up(ctx, pool)
		pool.Close()
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrate template: %w", err)
	}
	return s, nil
}

// NewDB implements NewDB.
func (s *Server) NewDB(ctx context.Context) (string, func(), error) {
	name := fmt.Sprintf("%s_%d", s.prefix, s.seq.Add(1))
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{s.template}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop := func() {
		_ = s.exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return withDatabase(s.adminURL, name), drop, nil
}

// Settings reports the server settings that decide write speed.
func (s *Server) Settings(ctx context.Context) string {
	var version, fsync, syncCommit, sharedBuffers string
	err := s.admin.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
	       current_setting('synchronous_commit'), current_setting('shared_buffers')`).Scan(&version, &fsync, &syncCommit, &sharedBuffers)
	if err != nil {
		return "unknown settings: " + err.Error()
	}
	return fmt.Sprintf("PostgreSQL %s, fsync=%s, synchronous_commit=%s, shared_buffers=%s", version, fsync, syncCommit, sharedBuffers)
}

// Close drops the template and disconnects.
func (s *Server) Close() error {
	err := s.exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{s.template}.Sanitize()+" WITH (FORCE)")
	s.admin.Close()
	return err
}

func (s *Server) exec(ctx context.Context, sql string) error {
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// withDatabase points a connection string (URL or keyword/value) at
// database name.
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// redactURL drops a password from a URL for a message.
func redactURL(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return "the database"
}
