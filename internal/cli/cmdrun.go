package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/logctx"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

func cmdRun(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) (err error) {
	// The time budget counts from here, the start of the process for all
	// that matters: connecting, waiting for the lock and migrating spend it
	// too.
	start := time.Now()
	var o runOptions
	fs := newFlagSet("run", "Syncs every tracked device once and exits. Pending migrations are applied\nfirst unless --no-migrate is given.", stdout)
	o.register(fs)
	fs.validate = func() []error { return o.validate(getenv) }
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	// On a terminal the log lines and the progress bar share standard
	// error through one console, so that they never share a row.
	out := stderr
	var con *console
	if isTerminal(stderr) {
		con = newConsole(stderr)
		out = con
	}
	log := logctx.Wrap(newLogger(o.logOptions, out))
	// A signal is a signal in every phase: stopped while connecting or
	// waiting for the lock is exit 4, as it is while fetching.
	defer func() { err = interruptedErr(ctx, err) }()

	client, err := o.newClient(ctx, getenv, log)
	if err != nil {
		return err
	}
	setupCtx, cancel := syncrun.BeforeStart(ctx, start, o.MaxDuration)
	defer cancel()
	st, err := openDB(setupCtx, o.dbOptions, schemaAsIs, log)
	if err != nil {
		return syncrun.BudgetErr(setupCtx, err)
	}
	defer st.Close()

	// The schema first: the lock lives in it. goose makes two runs that
	// migrate at once take turns, and a second run finds nothing to do.
	if err := prepareSchema(setupCtx, st, schemaMode(o.NoMigrate), log); err != nil {
		return syncrun.BudgetErr(setupCtx, err)
	}
	lock, err := st.WithLease(o.LockLease).LockRun(setupCtx, o.scope, o.WaitForLock)
	if errors.Is(err, store.ErrLocked) {
		log.LogAttrs(ctx, slog.LevelInfo, "another run of this scope is in progress; nothing to do",
			slog.String("scope", o.scope.String()), slog.Float64("waited_seconds", o.WaitForLock.Seconds()),
			slog.String("reason", err.Error()))
		return nil
	}
	if err != nil {
		return syncrun.BudgetErr(setupCtx, err)
	}
	defer lock.Release()
	sum, err := syncrun.Run(ctx, st, client, syncrun.Config{
		Scope:         o.scope,
		Lock:          lock,
		Concurrency:   o.Concurrency,
		BatchSize:     o.BatchSize,
		DefaultOrgID:  o.OrgID,
		MaxDuration:   o.MaxDuration,
		Detect:        store.Detect(o.Detect),
		DetailMaxAge:  o.DetailMaxAge,
		ListingSample: listingSample(o.ListingSample),
		Started:       start,
		Logger:        log,
		OnProgress:    newProgress(out, log),
	})
	if con != nil {
		con.clearBar()
	}
	if err != nil {
		return err
	}
	newFailed := -1 // not counted: every failure counts
	if o.TolerateForbidden && sum.Status == store.RunPartial && sum.Counts.Failed > 0 {
		if newFailed, err = st.NewFailures(context.WithoutCancel(ctx), sum.RunID); err != nil {
			// Unsure which failures are known: none is tolerated.
			log.LogAttrs(ctx, slog.LevelError, "could not tell known failures from new ones; none is tolerated",
				slog.Int64("run_id", sum.RunID), slog.String("error", err.Error()))
			newFailed = -1
		}
	}
	logSummary(ctx, log, sum, newFailed)
	if nothingToSync(sum) {
		log.LogAttrs(ctx, slog.LevelWarn, noDevicesHint(sum.Scope), slog.Int64("run_id", sum.RunID))
	}
	if con != nil {
		writePlainSummary(con, sum, newFailed)
	}
	if o.PushgatewayURL != "" {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		tolerated := 0
		if newFailed >= 0 {
			tolerated = sum.Counts.Failed - newFailed
		}
		if err := pushMetrics(pctx, o.PushgatewayURL, sum, summaryErr(sum, newFailed) == nil, tolerated, o.DetailMaxAge, time.Now()); err != nil {
			// Monitoring trouble must not change what the run did.
			log.LogAttrs(ctx, slog.LevelError, "could not push metrics", slog.Int64("run_id", sum.RunID), slog.String("error", err.Error()))
		}
	}
	return summaryErr(sum, newFailed)
}

// logSummary writes the one line an operator reads after a run. newFailed
// is the failed devices --tolerate-forbidden does not forgive, or -1.
func logSummary(ctx context.Context, log *slog.Logger, s syncrun.Summary, newFailed int) {
	level := slog.LevelInfo
	switch s.Status {
	case store.RunPartial, store.RunInterrupted:
		level = slog.LevelWarn
	case store.RunFailed:
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.Int64("run_id", s.RunID), slog.String("status", string(s.Status)),
		slog.String("scope", s.Scope.String()),
		slog.Int("devices_total", s.Total), slog.Int("devices_ok", s.Counts.OK),
		slog.Int("devices_changed", s.Counts.Changed), slog.Int("devices_not_found", s.Counts.NotFound),
		slog.Int("devices_failed", s.Counts.Failed), slog.Int("devices_skipped", s.Counts.Skipped),
		slog.Int("changes_recorded", s.Counts.Changes), slog.Int64("requests", s.Requests),
		slog.Int64("throttled", s.Throttled), slog.Float64("duration_seconds", math.Round(s.Duration.Seconds()*1000)/1000),
		slog.Int("devices_confirmed", s.Listing.Confirmed), slog.String("listing_status", string(s.Listing.Status)),
		slog.Int64("listing_requests", s.Listing.Requests), slog.Int64("details_requests", s.Requests-s.Listing.Requests),
		slog.Int("listing_comparisons", s.Listing.Compared), slog.Int("listing_disagreements", s.Listing.Disagreed),
		slog.Int("devices_sampled", s.Listing.Due["sample"]), slog.Int("missed_changes", s.Listing.Missed),
	}
	attrs = append(attrs, slog.Int("devices_refreshed", s.Listing.Due["max_age"]))
	if s.DetailsAgeKnown && s.DetailsAge.WithDetails > 0 {
		attrs = append(attrs, slog.Float64("details_age_max_seconds", math.Round(s.DetailsAge.Oldest.Seconds())),
			slog.Float64("details_age_p99_seconds", math.Round(s.DetailsAge.P99.Seconds())))
	}
	if newFailed >= 0 {
		attrs = append(attrs, slog.Int("devices_failed_new", newFailed), slog.Int("devices_failed_tolerated", s.Counts.Failed-newFailed))
	}
	if s.Err != nil {
		attrs = append(attrs, slog.String("error", s.Err.Error()))
	}
	log.LogAttrs(ctx, level, "run finished", attrs...)
}

// summaryErr maps a run's end to the exit code; the summary line has
// already said why. newFailed is the failed devices --tolerate-forbidden
// does not forgive, or -1 when every failure counts.
func summaryErr(s syncrun.Summary, newFailed int) error {
	switch s.Status {
	case store.RunSucceeded:
		return nil
	case store.RunPartial:
		failed := s.Counts.Failed
		if newFailed >= 0 {
			failed = newFailed
		}
		if failed == 0 {
			// A planned stop (the rest is the next run's), or only the
			// known forbidden devices failed.
			return nil
		}
		return &exitcode.Error{Code: exitcode.Partial, Err: errSilent}
	case store.RunInterrupted:
		return &exitcode.Error{Code: exitcode.Interrupted, Err: errSilent}
	default:
		if s.Err == nil {
			return errors.New("run failed")
		}
		return &exitcode.Error{Code: exitcode.Failed, Err: fmt.Errorf("%w: %w", errSilent, s.Err)}
	}
}

// nothingToSync says that a run found no device to sync, rather than
// failing before it could look: only then is "track some devices" the
// advice.
func nothingToSync(s syncrun.Summary) bool {
	return s.Total+s.Listing.Confirmed == 0 && s.Err == nil
}

// noDevicesHint says what to do when a run found nothing to sync.
func noDevicesHint(sc store.Scope) string {
	where := "no devices are tracked"
	if !sc.IsAll() {
		where = fmt.Sprintf("shard %s holds none of the tracked devices", sc)
	}
	return fmt.Sprintf("%s: track the org's calling devices with %q, or some of them with %q, then run again",
		where, Name+" discover", Name+" devices add ID...")
}

// interruptedErr turns any failure after a signal into exit 4.
func interruptedErr(ctx context.Context, err error) error {
	var ee *exitcode.Error
	if err == nil || ctx.Err() == nil || errors.As(err, &ee) {
		return err // no signal, or the run's own exit code already says how it ended
	}
	return &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf("interrupted: %w", err)}
}

// listingSample maps --listing-sample to syncrun's: 0 turns the sample off.
func listingSample(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}
