package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/wxc-inventory/wxc-sync/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var o struct {
		dbOptions
		logOptions
		devices int
		seed    int64
		keep    bool
		page    string
	}
	fs := newFlagSet("demo", "Runs the whole job against a built-in Webex simulator, on a database of its own\n("+demo.DefaultDatabaseName+"): sync, churn, sync again, then a short report and the fleet page.\nNeeds no configuration: without DATABASE_URL it uses the local server libpq's\ndefaults reach, else a throwaway cluster from the local PostgreSQL binaries.", stdout)
	o.dbOptions.register(fs)
	fs.IntVar(&o.devices, "devices", 3000, "simulated devices")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the simulated fleet and its churn")
	fs.BoolVar(&o.keep, "keep", false, "leave a throwaway cluster running afterwards, to explore it with psql")
	fs.StringVar(&o.page, "page", demo.DefaultPagePath(), "write the fleet page (HTML) here")
	o.logOptions.register(fs)
	fs.Lookup("log-level").DefValue = "warn"
	o.Level = "warn"
	fs.validate = func() []error {
		errs := o.logOptions.validate()
		if o.devices < 1 || o.devices > 1_000_000 {
			errs = append(errs, fmt.Errorf("--devices %d: want 1 to 1000000", o.devices))
		}
		return errs
	}
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	out := stderr
	if isTerminal(stderr) {
		out = newConsole(stderr)
	}
	log := newLogger(o.logOptions, out)
	progressLog := newLogger(logOptions{Format: o.Format, Level: "info"}, out)
	_, err := demo.Run(ctx, demo.Options{
		DatabaseURL: o.DatabaseURL,
		Devices:     o.devices,
		Seed:        o.seed,
		Keep:        o.keep,
		PagePath:    o.page,
		Logger:      log,
		Progress:    newProgress(out, progressLog),
	}, stdout)
	return err
}
