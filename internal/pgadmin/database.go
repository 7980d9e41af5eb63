package pgadmin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// Execer is what a pool and a connection share.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// CreateDatabase runs CREATE DATABASE name, from template unless it is
// empty, retrying while the template is still in use (55006): the backends
// of a just-closed pool take a moment to exit, and until they do PostgreSQL
// refuses the copy.
func CreateDatabase(ctx context.Context, db Execer, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	inUse := func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "55006"
	}
	err := pgretry.Do(ctx, pgretry.Policy{Tries: 6, Wait: 50 * time.Millisecond, Retryable: inUse},
		func(ctx context.Context) error {
			_, err := db.Exec(ctx, sql)
			return err
		})
	if err != nil {
		if template == "" {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		return fmt.Errorf("create database %s from %s: %w", name, template, err)
	}
	return nil
}

// DropDatabase drops name if it exists, ending any sessions still on it (a
// pool the code under test forgot to close must not make the drop fail).
func DropDatabase(ctx context.Context, db Execer, name string) error {
	if _, err := db.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Template is a migrated database that fresh databases are cloned from
// (CREATE DATABASE ... TEMPLATE), which is much faster than migrating each.
type Template struct {
	admin    *pgxpool.Pool
	adminURL string
	name     string
	prefix   string
	seq      atomic.Int64
	// createMu serialises the clones: clones of one template taken at the
	// same moment trip over each other's hold on it.
	createMu sync.Mutex
}

// NewTemplate creates database prefix+"_tpl" on the server admin reaches
// (adminURL is admin's connection string), runs migrate on a pool of it,
// and closes it to connections, so that no stray session can block a clone.
func NewTemplate(ctx context.Context, admin *pgxpool.Pool, adminURL, prefix string, migrate func(context.Context, *pgxpool.Pool) error) (*Template, error) {
	t := &Template{admin: admin, adminURL: adminURL, name: prefix + "_tpl", prefix: prefix}
	if err := CreateDatabase(ctx, admin, t.name, "template0"); err != nil {
		return nil, err
	}
	if err := t.migrate(ctx, migrate); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, DropDatabase(dctx, admin, t.name))
	}
	return t, nil
}

func (t *Template) migrate(ctx context.Context, migrate func(context.Context, *pgxpool.Pool) error) error {
	dsn, err := WithDatabase(t.adminURL, t.name)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open pool on template %s: %w", t.name, err)
	}
	err = migrate(ctx, pool)
	// A database with open connections cannot be cloned: close them all now.
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate template %s: %w", t.name, err)
	}
	// CREATE DATABASE ... TEMPLATE still copies it.
	if _, err := t.admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{t.name}.Sanitize()+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close template %s to connections: %w", t.name, err)
	}
	return nil
}

// Name is the template database's name.
func (t *Template) Name() string { return t.name }

// Clone creates a fresh database from the template and returns its name
// and connection string. The caller drops it with DropDatabase.
func (t *Template) Clone(ctx context.Context) (name, dsn string, err error) {
	return t.CloneFrom(ctx, t.name)
}

// CloneFrom is Clone from another template (template0 for an empty
// database), with the same naming and serialisation.
func (t *Template) CloneFrom(ctx context.Context, template string) (name, dsn string, err error) {
	name = fmt.Sprintf("%s_%d", t.prefix, t.seq.Add(1))
	dsn, err = WithDatabase(t.adminURL, name)
	if err != nil {
		return "", "", err
	}
	t.createMu.Lock()
	defer t.createMu.Unlock()
	if err := CreateDatabase(ctx, t.admin, name, template); err != nil {
		return "", "", err
	}
	return name, dsn, nil
}

// Drop drops the template itself.
func (t *Template) Drop(ctx context.Context) error { return DropDatabase(ctx, t.admin, t.name) }
