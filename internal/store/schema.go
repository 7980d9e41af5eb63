package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// The schema's migrations, applied, rolled back and read through the
// store, so that no command needs the pool itself.

// Migrate applies every pending migration, logging one line each (log may
// be nil), on a pool of its own without the job's statement_timeout
// (MigrationPool). It returns how many were applied. Through a transaction
// pooler it applies none: with migrations pending it fails with
// ErrNeedsSession.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) (int, error) {
	if s.pooler == PoolerTransaction {
		// Nothing to apply needs no lock; anything to apply does.
		pending, err := s.PendingMigrations(ctx)
		if err != nil || len(pending) == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("apply %d pending migrations (%s ...): %w", len(pending), pending[0], ErrNeedsSession)
	}
	pool, err := s.MigrationPool(ctx)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	return migrations.UpLogged(ctx, pool, log)
}

// MigrateDownTo rolls back, newest first, every applied migration above
// version, and returns the files it rolled back, even when one fails.
func (s *Store) MigrateDownTo(ctx context.Context, version int64, log *slog.Logger) ([]string, error) {
	if s.pooler == PoolerTransaction {
		return nil, fmt.Errorf("roll back migrations: %w", ErrNeedsSession)
	}
	pool, err := s.MigrationPool(ctx)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return migrations.DownTo(ctx, pool, version, log)
}

// WriteMigrationStatus writes one line per migration: its version, file
// and when it was applied, or "pending".
func (s *Store) WriteMigrationStatus(ctx context.Context, w io.Writer) error {
	if s.pooler == PoolerTransaction {
		return fmt.Errorf("read the migrations' status: %w", ErrNeedsSession) // goose locks for it
	}
	return migrations.WriteStatus(ctx, s.pool, w)
}

// PendingMigrations lists the migrations (files, oldest first) that
// Migrate would apply. It reads goose's table itself and creates nothing,
// so that any role may ask, of any database.
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	all, err := migrations.List()
	if err != nil {
		return nil, err
	}
	q := dbsqlc.New(s.pool)
	applied := map[int64]bool{}
	present, err := q.MigrationTableExists(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migration status: %w", err)
	}
	if present {
		rows, err := q.MigrationVersions(ctx)
		if err != nil {
			return nil, fmt.Errorf("read migration status: %w", err)
		}
		for _, r := range rows {
			applied[r.VersionID] = r.IsApplied
		}
	}
	var pending []string
	for _, m := range all {
		if !applied[m.Version] {
			pending = append(pending, m.File)
		}
	}
	return pending, nil
}
