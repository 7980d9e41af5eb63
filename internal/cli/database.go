package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// schema says what a command does about migrations when it opens the
// database.
type schema int

const (
	schemaMigrate schema = iota // apply pending migrations
	schemaCurrent               // refuse a schema with pending migrations
	schemaAsIs                  // leave it (migrate itself)
)

// schemaMode is schemaCurrent with --no-migrate, else schemaMigrate.
func schemaMode(noMigrate bool) schema {
	if noMigrate {
		return schemaCurrent
	}
	return schemaMigrate
}

// openDB is how every command opens the database: store.Open (session
// defaults, a bounded and briefly retried first connection), then the
// schema step the command needs, so that no command meets a schema it does
// not know. log may be nil.
func openDB(ctx context.Context, o dbOptions, sc schema, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, o.DatabaseURL, o.openOptions(log))
	if err != nil {
		return nil, err
	}
	if err := prepareSchema(ctx, st, sc, log); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// openStore opens the database for the commands that never migrate
// (devices, report, prune-history), so that a role without DDL rights can
// run them.
func openStore(ctx context.Context, o dbOptions) (*store.Store, func(), error) {
	st, err := openDB(ctx, o, schemaCurrent, nil)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// prepareSchema applies pending migrations, or checks that none are
// pending, or does nothing, as sc says.
func prepareSchema(ctx context.Context, st *store.Store, sc schema, log *slog.Logger) error {
	switch sc {
	case schemaCurrent:
		pending, err := st.PendingMigrations(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("the database schema is not up to date (this command does not migrate): run %q with a role that owns the schema", Name+" migrate")
		}
		return nil
	case schemaMigrate:
		_, err := st.Migrate(ctx, log)
		return needsSession(err)
	}
	return nil
}

// needsSession makes a refusal for want of a session of its own
// (store.ErrNeedsSession: migrating through a transaction pooler) a
// configuration error, exit 2, that says what to do.
func needsSession(err error) error {
	if !errors.Is(err, store.ErrNeedsSession) {
		return err
	}
	return &exitcode.Error{Code: exitcode.Usage, Err: fmt.Errorf("%w: goose holds a session advisory lock while it migrates, which a transaction pooler does not keep; run %q with a --database-url that reaches PostgreSQL itself (not the pooler), and %q through the pooler",
		err, Name+" migrate", Name+" run --no-migrate")}
}
