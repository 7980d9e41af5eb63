package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// Server makes fresh databases on one PostgreSQL server: each measurement
// gets its own, cloned from a template migrated once, and dropped after.
type Server struct {
	admin    *pgxpool.Pool
	template *pgadmin.Template
}

// OpenServer connects to adminURL, whose role may CREATE DATABASE, and
// builds the migrated template.
func OpenServer(ctx context.Context, adminURL string) (*Server, error) {
	admin, err := pgxpool.New(ctx, adminURL)
	if err == nil {
		if err = admin.Ping(ctx); err != nil {
			admin.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", pgadmin.Redact(adminURL), err)
	}
	tpl, err := pgadmin.NewTemplate(ctx, admin, adminURL, fmt.Sprintf("wxc_bench_%d", os.Getpid()), migrations.Up)
	if err != nil {
		admin.Close()
		return nil, err
	}
	return &Server{admin: admin, template: tpl}, nil
}

// NewDB implements NewDB.
func (s *Server) NewDB(ctx context.Context) (string, func(), error) {
	name, dsn, err := s.template.Clone(ctx)
	if err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = pgadmin.DropDatabase(ctx, s.admin, name)
	}
	return dsn, drop, nil
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.template.Drop(ctx)
	s.admin.Close()
	return err
}
