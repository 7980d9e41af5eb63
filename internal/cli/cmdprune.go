package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

func cmdPruneHistory(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o         dbOptions
		olderThan string
		dryRun    bool
	)
	fs := newFlagSet("prune-history", "Deletes device_changes rows older than --older-than, the one way history\nrows leave: the table refuses UPDATE, DELETE and TRUNCATE otherwise. Each\nprune is recorded in history_prunes. Needs a role with DELETE on\ndevice_changes, which the sync role does not have.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	fs.StringVar(&olderThan, "older-than", "", "required: age of the rows to delete, in days (400d), at least 1d")
	fs.BoolVar(&dryRun, "dry-run", false, "count the rows that would go, delete nothing")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	days, err := parseDays(olderThan)
	if err != nil {
		return usageErr("--older-than %q: %v", olderThan, err)
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := st.PruneHistory(ctx, days, dryRun)
	if err != nil {
		return err
	}
	verb := "deleted"
	if dryRun {
		verb = "dry run, nothing deleted: would delete"
	}
	fmt.Fprintf(stdout, "%s %s changed before %s\n", verb, plural(int(res.Rows), "history row"), res.Cutoff.UTC().Format(time.RFC3339))
	return nil
}

// parseDays reads "400d" (or a bare number of days).
func parseDays(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("required, e.g. --older-than 400d")
	}
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil || n < 1 || n > 100000 {
		return 0, fmt.Errorf("want a number of days, at least 1, e.g. 400d")
	}
	return n, nil
}
