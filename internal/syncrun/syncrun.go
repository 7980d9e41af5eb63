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
	"github.com/wxc-inventory/wxc-sync/internal/logctx"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// Defaults of Config that the command line shows.
const (
	DefaultConcurrency = 8   // requests in flight
	DefaultBatchSize   = 500 // results per write
)

// Config tunes a run. Zero values take the defaults.
type Config struct {
	Scope         store.Scope   // the whole fleet, or one shard
	Concurrency   int           // requests in flight at most; default 8
	BatchSize     int           // results per write; default 500
	FlushInterval time.Duration // longest a result waits to be written; default 1s
	PageSize      int           // due IDs read per query; default 1000
	DefaultOrgID  string        // sent for devices whose row has no org_id
	// MaxDuration is the run's time budget (0: none). When it runs out, no
	// new request is sent, what was received is stored, and the devices not
	// reached are left for the next run, which takes the stalest first.
	MaxDuration time.Duration
	// Started is when the budget and the run's duration start counting: the
	// process start, so that connecting and waiting for the lock spend the
	// budget too. Default: when Run is called.
	Started time.Time
	// Lock is the scope's run lock, if the caller took it already (to
	// migrate under it, say). Otherwise Run takes it without waiting.
	Lock *store.RunLock
	// WriteTimeout bounds one batch write. Writes do not stop when the run is
	// cancelled, so that every result already received is stored.
	WriteTimeout time.Duration // default 15s
	Logger       *slog.Logger
	// OnProgress, if set, is called after each batch is stored.
	OnProgress func(Progress)
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.PageSize <= 0 {
		c.PageSize = 1000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = logctx.Wrap(c.Logger)
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
	Scope     store.Scope
	Status    store.RunStatus
	Total     int // devices due when the run started
	Counts    store.FinalCounts
	Requests  int64 // HTTP requests sent
	Throttled int64 // 429 and 423 answers
	Duration  time.Duration
	// BudgetReached says the time budget ended the run; the devices not
	// reached (Counts.Skipped) are left for the next run.
	BudgetReached bool
	Abandoned     []int64 // earlier runs found dead and marked abandoned
	Err           error   // why the run failed or stopped; nil when it finished
}

// ErrUnauthorized is returned (wrapped) when Webex rejects the token.
var ErrUnauthorized = errors.New("Webex rejected the token")

// ErrUnreachable is returned (wrapped) when Webex gave no HTTP answer to
// a run of requests: the devices are not to blame, and keep their state.
var ErrUnreachable = errors.New("Webex API unreachable")

// ErrCertificate is returned (wrapped) when the API's TLS certificate
// cannot be verified.
var ErrCertificate = errors.New("the Webex API's TLS certificate is not trusted")

// ErrLocked is returned (wrapped) when another run holds the scope's lock.
var ErrLocked = store.ErrLocked

// Run syncs every due device of the scope once. It returns an error when
// the run could not start (the lock is held elsewhere: ErrLocked; the
// database is down); once started, the Summary says how it ended,
// including its Err.
func Run(ctx context.Context, st *store.Store, client *fetch.Client, cfg Config) (Summary, error) {
	cfg.defaults()
	start := cfg.Started
	if start.IsZero() {
		start = time.Now()
	}
	// Starting the run (the lock, the count of due devices) can wait on
	// the database: it spends the budget like the rest.
	startCtx := ctx
	if cfg.MaxDuration > 0 {
		var cancel context.CancelFunc
		startCtx, cancel = context.WithDeadlineCause(ctx, start.Add(cfg.MaxDuration), ErrBudgetBeforeStart)
		defer cancel()
	}
	before := client.Stats()

	lock := cfg.Lock
	if lock == nil {
		var err error
		if lock, err = st.LockRun(startCtx, cfg.Scope, 0); err != nil {
			return Summary{}, budgetErr(startCtx, err)
		}
		defer lock.Release()
	}

	// Every statement of the run goes through the lock's connection: a run
	// that lost its lock can write nothing more.
	st = st.Fenced(lock)
	run, err := st.StartRunAt(startCtx, cfg.Scope, cfg.Started)
	if err != nil {
		return Summary{}, budgetErr(startCtx, err)
	}
	ctx = logctx.With(ctx, slog.Int64("run_id", run.ID))
	log := cfg.Logger
	abandoned, err := st.AbandonRuns(ctx, run)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "could not mark dead runs abandoned", slog.String("error", err.Error()))
	}
	for _, id := range abandoned {
		log.LogAttrs(ctx, slog.LevelWarn, "an earlier run died without finishing; marked abandoned", slog.Int64("abandoned_run_id", id))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "run started", slog.String("scope", run.Scope.String()),
		slog.Int("devices_due", run.Total), slog.Int("concurrency", cfg.Concurrency))

	fetchCtx, cancelFetch := context.WithCancelCause(ctx)
	defer cancelFetch(nil)
	if cfg.MaxDuration > 0 {
		var cancel context.CancelFunc
		fetchCtx, cancel = context.WithDeadlineCause(fetchCtx, start.Add(cfg.MaxDuration), errBudget)
		defer cancel()
	}

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
	g.Go(func() error { return keepLock(gctx, lock, log) })
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
	workers, wctx := errgroup.WithContext(gctx)
	for range cfg.Concurrency {
		workers.Go(func() error { return fetchLoop(wctx, client, cfg, log, due, w, cancelFetch) })
	}
	g.Go(func() error {
		err := workers.Wait()
		if err == nil {
			err = errDone // stops the lock keeper
		}
		return err
	})
	fetchErr := g.Wait()
	if errors.Is(fetchErr, errDone) {
		fetchErr = nil
	}
	close(w.results)
	<-w.done

	after := client.Stats()
	sum := Summary{
		RunID:     run.ID,
		Scope:     run.Scope,
		Total:     run.Total,
		Requests:  after.Requests - before.Requests,
		Throttled: after.Throttled - before.Throttled,
		Abandoned: abandoned,
	}
	sum.Status, sum.Err = outcome(ctx, fetchCtx, fetchErr, w.err, w.counts)
	sum.BudgetReached = errors.Is(context.Cause(fetchCtx), errBudget) && ctx.Err() == nil

	if sum.BudgetReached && sum.Err == nil {
		// Counted from what the writer stored, so that sync_runs.error says
		// why the run ended; the recount below agrees unless a batch was
		// sent twice.
		left := max(run.Total-w.counts.OK-w.counts.NotFound-w.counts.Failed, 0)
		sum.Err = fmt.Errorf("time budget of %s reached; %d devices left for the next run", cfg.MaxDuration, left)
	}
	errMsg := ""
	if sum.Err != nil {
		errMsg = sum.Err.Error()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.WriteTimeout)
	defer cancel()
	final, err := st.FinishRun(fctx, run.ID, sum.Status, errMsg, sum.Throttled)
	if err != nil {
		if sum.Err == nil {
			sum.Status, sum.Err = store.RunFailed, err
		} else {
			sum.Err = fmt.Errorf("%w (and recording the run's end failed: %v)", sum.Err, err)
		}
		// The database could not recount: report what the writer stored.
		final = store.FinalCounts{OK: w.counts.OK, NotFound: w.counts.NotFound, Failed: w.counts.Failed,
			Changed: w.counts.Changed, Changes: w.counts.Changes,
			Skipped: max(run.Total-w.counts.OK-w.counts.NotFound-w.counts.Failed, 0)}
	}
	sum.Counts = final
	sum.Duration = time.Since(start)
	return sum, nil
}

// ErrBudgetBeforeStart is returned (wrapped) when the time budget ran out
// before the run could start: nothing was fetched or recorded.
var ErrBudgetBeforeStart = errors.New("the time budget ran out before the run could start")

// budgetErr marks err as the budget's doing when it was.
func budgetErr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrBudgetBeforeStart) && !errors.Is(err, ErrBudgetBeforeStart) {
		return fmt.Errorf("%w: %w", ErrBudgetBeforeStart, err)
	}
	return err
}

var (
	errBudget = errors.New("time budget reached")
	errDone   = errors.New("every due device was fetched")
)

// keepLock watches the run lock's session until ctx ends. If the session
// ends, another run may start at once: this one stops fetching (its writes
// already fail, see store.Fenced).
func keepLock(ctx context.Context, lock *store.RunLock, log *slog.Logger) error {
	if err := lock.Watch(ctx); err != nil && ctx.Err() == nil {
		log.LogAttrs(ctx, slog.LevelError, "lost the run lock; stopping", slog.String("error", err.Error()))
		return err
	}
	return nil
}

// outcome decides a run's status from how its parts ended.
func outcome(ctx, fetchCtx context.Context, fetchErr, writeErr error, c store.BatchCounts) (store.RunStatus, error) {
	switch {
	case writeErr != nil:
		return store.RunFailed, writeErr
	case errors.Is(fetchErr, ErrUnauthorized), errors.Is(fetchErr, store.ErrLockLost),
		errors.Is(fetchErr, ErrUnreachable), errors.Is(fetchErr, ErrCertificate):
		return store.RunFailed, fetchErr
	case ctx.Err() != nil:
		return store.RunInterrupted, fmt.Errorf("run interrupted: %w", context.Cause(ctx))
	case errors.Is(context.Cause(fetchCtx), errBudget):
		return store.RunPartial, nil // the message is set once the skipped devices are counted
	case fetchErr != nil:
		return store.RunFailed, fetchErr
	case c.Failed > 0:
		return store.RunPartial, nil
	default:
		return store.RunSucceeded, nil
	}
}

// fetchLoop fetches due devices until there are none or the run stops.
// stop ends the whole run's fetching with a cause.
func fetchLoop(ctx context.Context, client *fetch.Client, cfg Config, log *slog.Logger, due <-chan store.DueDevice, w *writer, stop context.CancelCauseFunc) error {
	for d := range due {
		if ctx.Err() != nil {
			return nil
		}
		org := d.OrgID
		if org == "" {
			org = cfg.DefaultOrgID
		}
		dev, err := client.Device(ctx, d.ID, org)
		if fetch.KindOf(err) == 0 && errors.Is(err, context.DeadlineExceeded) {
			// The client will not start a wait (a Retry-After, the rate
			// limit) that outlasts the budget: the budget is spent for every
			// device, not just this one.
			stop(errBudget)
			return nil
		}
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
	attrs := []slog.Attr{slog.String("device_id", id), slog.Int("http_status", fe.Status),
		slog.String("tracking_id", fe.TrackingID), slog.String("error_code", fe.ErrorCode), slog.String("error", fe.Error())}
	var outcome store.Outcome
	switch fe.Kind {
	case fetch.KindUnauthorized:
		log.LogAttrs(ctx, slog.LevelError, "Webex rejected the token; stopping the run", attrs...)
		return nil, fmt.Errorf("%w (device %s): %v", ErrUnauthorized, id, fe)
	case fetch.KindUnreachable:
		log.LogAttrs(ctx, slog.LevelError, "Webex API unreachable; stopping the run", attrs...)
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, fe.Message)
	case fetch.KindCertificate:
		log.LogAttrs(ctx, slog.LevelError, "the Webex API's TLS certificate is not trusted; stopping the run", attrs...)
		return nil, fmt.Errorf("%w: %s", ErrCertificate, fe.Message)
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
