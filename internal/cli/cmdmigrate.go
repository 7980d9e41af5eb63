package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

func cmdMigrate(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	status := false
	if len(args) > 0 && args[0] == "status" {
		status, args = true, args[1:]
	}
	var o struct {
		dbOptions
		logOptions
	}
	fs := newFlagSet("migrate [status]", "Applies the embedded schema migrations (a PostgreSQL advisory lock\nlets several pods migrate at once safely), or shows their status.", stdout)
	o.dbOptions.register(fs)
	o.logOptions.register(fs)
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if errs := o.logOptions.validate(); len(errs) > 0 {
		return usageErr("%v", errs[0])
	}
	log := newLogger(o.logOptions, stderr)
	pool, err := store.Open(ctx, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if status {
		return migrations.WriteStatus(ctx, pool, stdout)
	}
	n, err := migrations.UpLogged(ctx, pool, log)
	if err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "schema is up to date", slog.Int("applied", n))
	return nil
}

// prepareSchema applies pending migrations, or with noMigrate checks that
// none are pending, so that a command never meets a schema it does not
// know. Commands that never migrate (devices, report, prune-history) call
// it with noMigrate, so that a role without DDL rights can run them.
func prepareSchema(ctx context.Context, st *store.Store, noMigrate bool, log *slog.Logger) error {
	if noMigrate {
		pending, err := migrations.Pending(ctx, st.Pool())
		if err != nil {
			return err
		}
		if pending {
			return fmt.Errorf("the database schema is not up to date (this command does not migrate): run %q with a role that owns the schema", Name+" migrate")
		}
		return nil
	}
	_, err := migrations.UpLogged(ctx, st.Pool(), log)
	return err
}
