// Package migrations owns the database schema: the embedded goose migrations
// and the functions that apply them.
package migrations

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Files is the migrations, as shipped: one NNNNN_name.sql file each.
func Files() fs.FS { return files }

// provider builds a goose Provider over the pool. The session locker takes a
// PostgreSQL advisory lock so that two pods migrating at once take turns
// instead of colliding. With a logger, goose's own lines (each statement it
// runs, some over a thousand characters) go to it at debug level: the
// callers log one line per migration applied. Without, goose is silent.
func provider(pool *pgxpool.Pool, logger *slog.Logger) (*goose.Provider, *sql.DB, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("create migration locker: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithLogger(goose.NopLogger())}
	if logger != nil {
		opts = []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithSlog(slog.New(atDebug{logger.Handler()})), goose.WithVerbose(true)}
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, opts...)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, db, nil
}

// Up applies every pending migration.
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := UpLogged(ctx, pool, nil)
	return err
}

// UpLogged applies every pending migration, logging one line for each
// applied (logger nil: silent). It returns how many were applied.
func UpLogged(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (int, error) {
	p, db, err := provider(pool, logger)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	results, err := p.Up(ctx)
	applied := logResults(ctx, logger, "applied migration", results)
	if err != nil {
		return applied, fmt.Errorf("apply migrations: %w", err)
	}
	return applied, nil
}

// logResults logs one line for each migration that was applied or rolled
// back, and returns how many were.
func logResults(ctx context.Context, logger *slog.Logger, msg string, results []*goose.MigrationResult) int {
	n := 0
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		n++
		if logger != nil {
			logger.LogAttrs(ctx, slog.LevelInfo, msg, slog.String("migration", path.Base(r.Source.Path)),
				slog.Int64("version", r.Source.Version), slog.Duration("took", r.Duration))
		}
	}
	return n
}

// atDebug is a handler that writes every record at debug level.
type atDebug struct{ slog.Handler }

func (h atDebug) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h atDebug) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, r)
}

func (h atDebug) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atDebug{h.Handler.WithAttrs(attrs)}
}
func (h atDebug) WithGroup(name string) slog.Handler { return atDebug{h.Handler.WithGroup(name)} }

// UpTo applies the pending migrations up to and including version: for
// tests of a migration against data laid out by the ones before it.
func UpTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	p, db, err := provider(pool, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("apply migrations up to %d: %w", version, err)
	}
	return nil
}

// WriteStatus prints one line per migration: its version, file and when it
// was applied (or "pending").
func WriteStatus(ctx context.Context, pool *pgxpool.Pool, w io.Writer) error {
	p, db, err := provider(pool, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	for _, s := range statuses {
		applied := "pending"
		if s.State == goose.StateApplied {
			applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		if _, err := fmt.Fprintf(w, "%05d  %-40s %s\n", s.Source.Version, s.Source.Path, applied); err != nil {
			return err
		}
	}
	return nil
}

// Migration is one migration file.
type Migration struct {
	Version int64
	File    string // NNNNN_name.sql
}

// List is every migration, oldest first.
func List() ([]Migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, File: name})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// DownTo rolls back, newest first, every applied migration above version,
// and returns the files it rolled back, even when one fails part way.
func DownTo(ctx context.Context, pool *pgxpool.Pool, version int64, logger *slog.Logger) ([]string, error) {
	p, db, err := provider(pool, logger)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	results, err := p.DownTo(ctx, version)
	logResults(ctx, logger, "rolled back migration", results)
	var undone []string
	for _, r := range results {
		if r.Error == nil {
			undone = append(undone, path.Base(r.Source.Path))
		}
	}
	if err != nil {
		return undone, fmt.Errorf("roll back to version %d: %w", version, err)
	}
	return undone, nil
}
