package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/store"
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
	downTo := int64(-1)
	fs := newFlagSet("migrate [status]", "Applies the embedded schema migrations (a PostgreSQL advisory lock\nlets several pods migrate at once safely; it needs a connection to PostgreSQL\nitself, not through a transaction pooler), or shows their status. With\n--down-to VERSION it rolls back, newest first, every applied migration above\nVERSION (their Down sections; docs/OPERATIONS.md, \"Rolling a migration back\").", stdout)
	o.dbOptions.register(fs)
	o.logOptions.register(fs)
	fs.Int64Var(&downTo, "down-to", -1, "roll back every migration above this version (0: all of them); run it with\nthe binary of the release that applied them, which knows their Down sections")
	fs.validate = func() []error {
		errs := append(o.dbOptions.validate(), o.logOptions.validate()...)
		if downTo < -1 {
			errs = append(errs, fmt.Errorf("--down-to %d: want a version, 0 or more", downTo))
		}
		if downTo >= 0 && status {
			errs = append(errs, errors.New("migrate status takes no --down-to"))
		}
		return errs
	}
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	log := newLogger(o.logOptions, stderr)
	st, err := openDB(ctx, o.dbOptions, schemaAsIs, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Pooler() == store.PoolerTransaction {
		// Every goose command takes its session lock, status included.
		return needsSession(fmt.Errorf("migrate: %w", store.ErrNeedsSession))
	}
	if status {
		return st.WriteMigrationStatus(ctx, stdout)
	}
	if downTo >= 0 {
		undone, err := st.MigrateDownTo(ctx, downTo, log)
		for _, name := range undone {
			fmt.Fprintf(stdout, "rolled back %s\n", name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s rolled back; the schema is at version %d\n", plural(len(undone), "migration"), downTo)
		return nil
	}
	n, err := st.Migrate(ctx, log)
	if err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "schema is up to date", slog.Int("applied", n))
	return nil
}
