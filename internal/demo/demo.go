// Package demo runs the whole job against an in-process Webex simulator and
// a database of its own, for a newcomer with nothing configured: pick a
// PostgreSQL, migrate, load the simulated fleet, sync, churn, sync again,
// and show what the inventory and its history now say.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/fleetpage"
	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// Options configure a demo.
type Options struct {
	DatabaseURL string // a server to create the demo database on; empty: find one
	// DatabaseName is the database the demo (re)creates; default
	// DefaultDatabaseName.
	DatabaseName string
	Devices      int
	Seed         int64
	Keep         bool // leave a throwaway cluster running afterwards
	Logger       *slog.Logger
	// Progress is called after each stored batch of each sync.
	Progress func(syncrun.Progress)
	// PagePath is where the demo writes the fleet page; default
	// DefaultPagePath().
	PagePath string
}

// DefaultPagePath is where the demo writes the fleet page unless told:
// the system's temporary directory.
func DefaultPagePath() string {
	return filepath.Join(os.TempDir(), "wxc-sync-demo-fleet.html")
}

// Result is what the demo did, for tests and for the caller's exit code.
type Result struct {
	DatabaseURL   string // of the demo database; no password
	PagePath      string // the fleet page written
	First, Second syncrun.Summary
	Churn         webexsim.ChurnReport
}

// Run performs the demo, writing its report to out.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	if o.Devices <= 0 {
		o.Devices = 3000
	}
	if o.DatabaseName == "" {
		o.DatabaseName = DefaultDatabaseName
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger

	db, err := openDemoDatabase(ctx, o.DatabaseURL, o.DatabaseName, o.Keep, log)
	if err != nil {
		return Result{}, err
	}
	defer db.close()
	res := Result{DatabaseURL: db.displayURL}
	fmt.Fprintf(out, "Database: %s (%s)\n", db.displayURL, db.origin)

	st := db.st
	if _, err := st.Migrate(ctx, log); err != nil {
		return res, err
	}

	sim, err := webexsim.New(webexsim.Config{
		Devices: o.Devices, Seed: o.Seed,
		// A little of what real Webex does: some latency, the odd 503.
		Latency: 2 * time.Millisecond, Jitter: 8 * time.Millisecond,
		FaultRates: map[webexsim.FaultKind]float64{webexsim.FaultUnavailable: 0.005},
		Logger:     log,
	})
	if err != nil {
		return res, err
	}
	defer sim.Close()
	baseURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("start the Webex simulator: %w", err)
	}
	fmt.Fprintf(out, "Webex simulator: %s with %d devices (seed %d)\n\n", baseURL, o.Devices, o.Seed)

	devs := make([]store.NewDevice, 0, o.Devices)
	for _, id := range sim.IDs() {
		devs = append(devs, store.NewDevice{ID: id})
	}
	if _, err := st.TrackDevices(ctx, devs, false); err != nil {
		return res, fmt.Errorf("load the simulated device IDs: %w", err)
	}

	client, err := fetch.NewClient(fetch.Options{
		BaseURL:     baseURL,
		Tokens:      fetch.StaticToken(webexsim.DefaultToken),
		Limiter:     rate.NewLimiter(2000, 50),
		BackoffBase: 50 * time.Millisecond,
		Logger:      log,
	})
	if err != nil {
		return res, err
	}
	cfg := syncrun.Config{Concurrency: 32, Logger: log, OnProgress: o.Progress}

	fmt.Fprintln(out, "1. First sync: every device is new, so each gets its initial history rows.")
	if res.First, err = syncOnce(ctx, st, client, cfg); err != nil {
		return res, err
	}
	printSummary(out, res.First)

	res.Churn = sim.Churn(webexsim.ChurnSpec{Seed: o.Seed + 1, IPChange: 0.05, MACChange: 0.01, ActivationChange: 0.03, Remove: 0.01})
	fmt.Fprintf(out, "\n2. Churn in the simulator: %d new IPs, %d new MACs (hardware swaps), %d activation changes, %d devices removed.\n",
		len(res.Churn.IPChanged), len(res.Churn.MACChanged), len(res.Churn.ActivationChanged), len(res.Churn.Removed))

	fmt.Fprintln(out, "\n3. Second sync: only what changed is written to the history.")
	if res.Second, err = syncOnce(ctx, st, client, cfg); err != nil {
		return res, err
	}
	printSummary(out, res.Second)

	for _, s := range []struct{ title, report string }{
		{"Devices by model", "inventory_by_model"},
		{"Devices by activation state", "inventory_by_activation_state"},
		{"History recorded by the second sync", "changes_by_run"},
		{"IP changes (old -> new), latest 10", "ip_changes"},
		{"Runs", "recent_runs"},
	} {
		fmt.Fprintf(out, "\n%s (queries/reports/%s.sql):\n", s.title, s.report)
		if err := showReport(ctx, db, s.report, out, 10); err != nil {
			return res, err
		}
	}

	if o.PagePath == "" {
		o.PagePath = DefaultPagePath()
	}
	if err := writePage(ctx, st, o.PagePath); err != nil {
		return res, err
	}
	res.PagePath = o.PagePath
	fmt.Fprintf(out, "\nThe fleet page (charts of the inventory, its changes and the runs): %s\n", o.PagePath)
	fmt.Fprintf(out, "  open it in a browser; wxc-sync report overview --format html > fleet.html writes it again.\n")

	fmt.Fprintln(out, "\nExplore further:")
	if db.kept != "" {
		fmt.Fprintf(out, "  psql %q\n", db.psqlURL)
		fmt.Fprintf(out, "  psql %q -f queries/reports/ip_changes.sql\n", db.psqlURL)
		fmt.Fprintf(out, "  (the throwaway cluster keeps running; stop it with: %s)\n", db.kept)
	} else if db.origin == originThrowaway {
		fmt.Fprintln(out, "  The throwaway cluster is removed now. Run the demo with --keep to leave it running,")
		fmt.Fprintln(out, "  or point it at a server of yours: DATABASE_URL=postgres://... or docker compose up -d db.")
	} else {
		fmt.Fprintf(out, "  psql %q\n", db.psqlURL)
		fmt.Fprintf(out, "  psql %q -f queries/reports/ip_changes.sql\n", db.psqlURL)
		fmt.Fprintf(out, "  psql %q -v device_id=%s -f queries/reports/device_timeline.sql\n", db.psqlURL, firstChanged(res.Churn))
	}
	fmt.Fprintln(out, "  Every report is a plain SQL file in queries/reports/.")
	return res, nil
}

// writePage writes the fleet page to path, whole or not at all.
func writePage(ctx context.Context, st *store.Store, path string) error {
	var page *fleetpage.Page
	err := st.ReadOnly(ctx, func(db store.Reader) error {
		var err error
		page, err = fleetpage.Load(ctx, db, fleetpage.Options{})
		return err
	})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := page.Write(&b); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the fleet page: %w", err)
	}
	return nil
}

func syncOnce(ctx context.Context, st *store.Store, client *fetch.Client, cfg syncrun.Config) (syncrun.Summary, error) {
	sum, err := syncrun.Run(ctx, st, client, cfg)
	if err != nil {
		return sum, err
	}
	switch sum.Status {
	case store.RunSucceeded, store.RunPartial:
		return sum, nil
	default:
		return sum, fmt.Errorf("sync run %d %s: %w", sum.RunID, sum.Status, sum.Err)
	}
}

func printSummary(out io.Writer, s syncrun.Summary) {
	fmt.Fprintf(out, "   run %d %s in %s: %d devices, %d ok, %d not found, %d failed; %d history rows on %d devices; %d requests (%d retried or throttled)\n",
		s.RunID, s.Status, s.Duration.Round(time.Millisecond), s.Total, s.Counts.OK, s.Counts.NotFound, s.Counts.Failed,
		s.Counts.Changes, s.Counts.Changed, s.Requests, s.Requests-int64(s.Total-s.Counts.Skipped))
}

func showReport(ctx context.Context, db *demoDB, name string, out io.Writer, maxRows int) error {
	r, err := report.Find(name)
	if err != nil {
		return err
	}
	var res report.Result
	err = db.st.ReadOnly(ctx, func(q store.Reader) error {
		res, err = r.Run(ctx, q, nil)
		return err
	})
	if err != nil {
		return err
	}
	if len(res.Rows) > maxRows {
		res.Rows = res.Rows[:maxRows]
	}
	var b strings.Builder
	if err := res.Write(&b, "table"); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintln(out, "  "+line)
	}
	return nil
}

func firstChanged(c webexsim.ChurnReport) string {
	for _, l := range [][]webexsim.FieldChange{c.IPChanged, c.MACChanged, c.ActivationChanged} {
		if len(l) > 0 {
			return l[0].ID
		}
	}
	return "<device_id>"
}

// ErrNoDatabase says that no PostgreSQL could be found or started.
var ErrNoDatabase = errors.New("no PostgreSQL server found")
