// Package syncrun is one run of the sync job: it reads the due device IDs
// from the store, fetches their details concurrently through the Webex
// client, and hands the results to the store in batches, accounting for
// every device. It sits between fetch (HTTP) and store (SQL) and inspects
// neither HTTP status codes nor SQL.
package syncrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// Config tunes a run. Zero values take the defaults.
type Config struct {
	Concurrency   int           // requests in flight at most; default 8
	BatchSize     int           // results per write; default 500
	FlushInterval time.Duration // longest a result waits to be written; default 1s
	PageSize      int           // due IDs read per query; default 1000
	DefaultOrgID  string        // sent for devices whose row has no org_id
	// WriteTimeout bounds one batch write. Writes do not stop when the run is
	// cancelled, so that every result already received is stored.
	WriteTimeout time.Duration // default 30s
	Logger       *slog.Logger
	// OnProgress, if set, is called after each batch is stored.
	OnProgress func(Progress)
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.PageSize <= 0 {
		c.PageSize = 1000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Progress is a run's state after a batch was stored.
type Progress struct {
	RunID     int64
	Total     int
	Done      int // devices stored, whatever their outcome
	Throttled int64
	Elapsed   time.Duration
}

// Summary is how a run ended.
type Summary struct {
	RunID     int64
	Status    store.RunStatus
	Total     int // devices due when the run started
	Counts    store.BatchCounts
	Skipped   int   // due devices not stored: the run stopped before them, or they were deleted
	Requests  int64 // HTTP requests sent
	Throttled int64 // 429 and 423 answers
	Duration  time.Duration
	Err       error // why the run failed or stopped; nil when it finished
}

// ErrUnauthorized is returned (wrapped) when Webex rejects the token.
var ErrUnauthorized = errors.New("Webex rejected the token")

// Run syncs every due device once. It returns an error only when the run
// could not be recorded at all; otherwise the Summary says how it ended,
// including its Err.
func Run(ctx context.Context, st *store.Store, client *fetch.Client, cfg Config) (Summary, error) {
	cfg.defaults()
	start := time.Now()
	before := client.Stats()

	run, err := st.StartRun(ctx)
	if err != nil {
		return Summary{}, err
	}
	log := cfg.Logger.With(slog.Int64("run_id", run.ID))
	log.LogAttrs(ctx, slog.LevelInfo, "run started", slog.Int("devices_due", run.Total),
		slog.Int("concurrency", cfg.Concurrency))

	fetchCtx, cancelFetch := context.WithCancelCause(ctx)
	defer cancelFetch(nil)

	w := &writer{st: st, run: run, cfg: cfg, log: log, client: client, start: start,
		results: make(chan store.Result, cfg.BatchSize), done: make(chan struct{})}
	// The writer is outside the errgroup on purpose: it must outlive a
	// cancelled fetch, to store what was already received.
	go func() {
		defer close(w.done)
		if err := w.loop(context.WithoutCancel(ctx)); err != nil {
			w.err = err
			cancelFetch(err)
		}
	}()

	g, gctx := errgroup.WithContext(fetchCtx)
	due := make(chan store.DueDevice, cfg.Concurrency*2)
	g.Go(func() error {
		defer close(due)
		return st.DueDevices(gctx, run, cfg.PageSize, func(d store.DueDevice) error {
			select {
			case due <- d:
				return nil
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		})
	})
	for range cfg.Concurrency {
		g.Go(func() error { return fetchLoop(gctx, client, cfg, log, due, w) })
	}
	fetchErr := g.Wait()
	close(w.results)
	<-w.done

	after := client.Stats()
	sum := Summary{
		RunID:     run.ID,
		Total:     run.Total,
		Counts:    w.counts,
		Requests:  after.Requests - before.Requests,
		Throttled: after.Throttled - before.Throttled,
		Duration:  time.Since(start),
	}
	sum.Skipped = run.Total - w.counts.OK - w.counts.NotFound - w.counts.Failed
	sum.Status, sum.Err = outcome(ctx, fetchErr, w.err, w.counts)

	errMsg := ""
	if sum.Err != nil {
		errMsg = sum.Err.Error()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.WriteTimeout)
	defer cancel()
	if err := st.FinishRun(fctx, run.ID, sum.Status, errMsg); err != nil {
		if sum.Err == nil {
			sum.Status, sum.Err = store.RunFailed, err
		} else {
			sum.Err = fmt.Errorf("%w (and recording the run's end failed: %v)", sum.Err, err)
		}
	}
	return sum, nil
}

// outcome decides a run's status from how its parts ended.
func outcome(ctx context.Context, fetchErr, writeErr error, c store.BatchCounts) (store.RunStatus, error) {
	switch {
	case writeErr != nil:
		return store.RunFailed, writeErr
	case errors.Is(fetchErr, ErrUnauthorized):
		return store.RunFailed, fetchErr
	case ctx.Err() != nil:
		return store.RunInterrupted, fmt.Errorf("run interrupted: %w", context.Cause(ctx))
	case fetchErr != nil:
		return store.RunFailed, fetchErr
	case c.Failed > 0:
		return store.RunPartial, nil
	default:
		return store.RunSucceeded, nil
	}
}

func fetchLoop(ctx context.Context, client *fetch.Client, cfg Config, log *slog.Logger, due <-chan store.DueDevice, w *writer) error {
	for d := range due {
		if ctx.Err() != nil {
			return nil
		}
		org := d.OrgID
		if org == "" {
			org = cfg.DefaultOrgID
		}
		dev, err := client.Device(ctx, d.ID, org)
		res, fatal := classify(ctx, log, d.ID, dev, err)
		if fatal != nil {
			return fatal
		}
		if res == nil {
			continue // stopped before an answer: left for the next run
		}
		select {
		case w.results <- *res:
		case <-w.done:
			return nil // the writer failed; the run is over
		}
	}
	return nil
}

// classify turns a fetch result into what is stored. It returns a nil
// result for a fetch that was cut short, and an error only for a failure
// that must stop the whole run.
func classify(ctx context.Context, log *slog.Logger, id string, dev device.Device, err error) (*store.Result, error) {
	if err == nil {
		for _, w := range dev.Warnings {
			log.LogAttrs(ctx, slog.LevelWarn, "device payload has an unusable value",
				slog.String("device_id", id), slog.String("problem", w))
		}
		return &store.Result{DeviceID: id, Outcome: store.OutcomeOK, Device: dev}, nil
	}
	var fe *fetch.Error
	if !errors.As(err, &fe) {
		return nil, nil // context ended: not an answer about the device
	}
	attrs := []slog.Attr{slog.String("device_id", id), slog.Int("status", fe.Status),
		slog.String("tracking_id", fe.TrackingID), slog.String("error", fe.Error())}
	var outcome store.Outcome
	switch fe.Kind {
	case fetch.KindUnauthorized:
		log.LogAttrs(ctx, slog.LevelError, "Webex rejected the token; stopping the run", attrs...)
		return nil, fmt.Errorf("%w (device %s): %v", ErrUnauthorized, id, fe)
	case fetch.KindNotFound:
		outcome = store.OutcomeNotFound
		log.LogAttrs(ctx, slog.LevelInfo, "device no longer exists", attrs...)
	case fetch.KindForbidden:
		outcome = store.OutcomeForbidden
		log.LogAttrs(ctx, slog.LevelWarn, "device is not visible to this token", attrs...)
	default:
		outcome = store.OutcomeError
		log.LogAttrs(ctx, slog.LevelWarn, "device fetch failed", attrs...)
	}
	return &store.Result{DeviceID: id, Outcome: outcome, Error: fe.Error()}, nil
}
