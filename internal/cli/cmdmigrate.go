package cli

import (
	"context"
	"io"
	"log/slog"

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
	fs.validate = func() []error { return append(o.dbOptions.validate(), o.logOptions.validate()...) }
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	log := newLogger(o.logOptions, stderr)
	st, err := openDB(ctx, o.DatabaseURL, schemaAsIs, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if status {
		return migrations.WriteStatus(ctx, st.Pool(), stdout)
	}
	pool, err := st.MigrationPool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := migrations.UpLogged(ctx, pool, log)
	if err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "schema is up to date", slog.Int("applied", n))
	return nil
}
