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
	DefaultConcurrency  = 8   // requests in flight
	DefaultBatchSize    = 500 // results per write
	DefaultDetailMaxAge = 24 * time.Hour
	DefaultDetect       = store.DetectListing
)

// Config tunes a run. Zero values take the defaults.
type Config struct {
	Scope         store.Scope   // the whole fleet, or one shard
	Concurrency   int           // requests in flight at most; default 8
	BatchSize     int           // results per write; default 500
	FlushInterval time.Duration // longest a result waits to be written; default 1s
	PageSize      int           // due IDs read per query; default 1000
	DefaultOrgID  string        // sent for devices whose row has no org_id
	// Detect is how the run decides which devices need their details:
	// store.DetectListing (the default) reads GET /v1/devices first;
	// store.DetectNone fetches every device.
	Detect store.Detect
	// DetailMaxAge: with the listing, details older than this are fetched
	// whatever the listing says; default DefaultDetailMaxAge.
	DetailMaxAge time.Duration
	// ListingPageSize is the listing's max per request; default 100 (the
	// endpoint's cap, as far as is known).
	ListingPageSize int
	// ListingSample is the share of the devices the listing vouches for
	// that are fetched all the same, to check it (DefaultListingSample);
	// ListingSampleMin the least number (DefaultListingSampleMin). A
	// negative ListingSample turns the sample off.
	ListingSample    float64
	ListingSampleMin int
	// MaxDuration is the run's time budget (0: none). When it runs out, no
	// new request is sent, what was received is stored, and the devices not
	// reached are left for the next run, which takes the stalest first.
	MaxDuration time.Duration
	// Started is when the budget and the run's duration start counting: the
	// process start, so that connecting and waiting for the lock spend the
	// budget too. Default: when Run is called.
	Started time.Time
	// Clock measures the budget; default the real clock.
	Clock Clock
	// Lock is the scope's run lock, if the caller took it already (to wait
	// for it, say). Otherwise Run takes it without waiting.
	Lock   *store.RunLock
	Logger *slog.Logger
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
	if c.Detect == "" {
		c.Detect = DefaultDetect
	}
	if c.DetailMaxAge <= 0 {
		c.DetailMaxAge = DefaultDetailMaxAge
	}
	if c.ListingSample == 0 {
		c.ListingSample = DefaultListingSample
	}
	if c.ListingSample < 0 {
		c.ListingSample, c.ListingSampleMin = 0, 0
	} else if c.ListingSampleMin == 0 {
		c.ListingSampleMin = DefaultListingSampleMin
	}
	if c.ListingPageSize <= 0 {
		c.ListingPageSize = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
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
	Total     int // devices due (in the work list) when the run started
	Counts    store.FinalCounts
	Requests  int64 // HTTP requests sent, listing and details
	Throttled int64 // 429 and 423 answers
	// Paused is how long throttles held every request of the run (the
	// pauses' wall time, overlaps counted once).
	Paused time.Duration
	// Listing is what the listing sweep did (Detect listing).
	Listing  ListingSummary
	Duration time.Duration
	// BudgetReached says the time budget ended the run; the devices not
	// reached (Counts.Skipped) are left for the next run.
	BudgetReached bool
	// DetailsAge is how stale the scope's details were when the run
	// ended (zero when it could not be measured: DetailsAgeKnown false).
	DetailsAge      store.DetailsAge
	DetailsAgeKnown bool
	Abandoned       []int64 // earlier runs found dead and marked abandoned
	// StartRate is the rate the run started at, the scope's last run's
	// (0: the configured rate); EndedRate the rate it ended with, stored
	// for the next (0: the configured rate, never throttled).
	StartRate, EndedRate float64
	Err                  error // why the run failed or stopped; nil when it finished
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

// Run syncs every due device of the scope once: it starts the run (the
// lock, the sync_runs row), sweeps the listing and writes the work list,
// fetches and stores the details, and finishes the run's record. It returns
// an error when the run could not start (the lock is held elsewhere:
// ErrLocked; the database is down); once started, the Summary says how it
// ended, including its Err.
func Run(ctx context.Context, st *store.Store, client *fetch.Client, cfg Config) (Summary, error) {
	cfg.defaults()
	r, err := start(ctx, st, client, cfg)
	if err != nil {
		return Summary{}, err
	}
	defer r.release()
	r.execute()
	return r.finish(), nil
}

// run is one run between start and finish.
type run struct {
	st     *store.Store
	client *fetch.Client
	cfg    Config
	log    *slog.Logger
	start  time.Time
	before fetch.Stats // the client's counters when the run started
	// startRate is the rate the run started at, from the scope's last run;
	// 0: the configured rate.
	startRate float64
	lock      *store.RunLock
	release   func()

	ctx         context.Context // the caller's, with the run_id for logs
	fetchCtx    context.Context // ends with the budget, a signal or a fatal failure
	cancelFetch context.CancelCauseFunc
	stopTimers  func()

	rec       store.Run
	orgs      []string // the org keys of the scope's devices
	abandoned []int64
	listing   ListingSummary
	w         *writer
	fetchErr  error
}

// start takes the lock (unless the caller holds it), records the run and
// marks runs that died abandoned. Starting can wait on the database: it
// spends the budget like the rest.
func start(ctx context.Context, st *store.Store, client *fetch.Client, cfg Config) (*run, error) {
	began := cfg.Started
	if began.IsZero() {
		began = cfg.Clock.Now()
	}
	startCtx, cancel := withBudget(ctx, cfg.Clock, began, cfg.MaxDuration, ErrBudgetBeforeStart)
	defer cancel()
	r := &run{st: st, client: client, cfg: cfg, log: cfg.Logger, start: began, before: client.Stats(),
		lock: cfg.Lock, release: func() {}}
	if r.lock == nil {
		lock, err := st.LockRun(startCtx, cfg.Scope, 0)
		if err != nil {
			return nil, BudgetErr(startCtx, err)
		}
		r.lock, r.release = lock, lock.Release
	}
	// Every statement of the run checks the lock in its own transaction:
	// once another run has taken the scope over, nothing of this one
	// commits.
	st = st.Fenced(r.lock, r.log)
	r.st = st
	// The orgs to list, read before the run is recorded: a devices table
	// that cannot be read (a long migration's lock, say) stops the run
	// within its budget with nothing recorded that did not happen.
	orgs, err := st.ListingOrgs(startCtx, cfg.Scope)
	if err != nil {
		r.release()
		return nil, BudgetErr(startCtx, err)
	}
	r.orgs = orgs
	rec, err := st.StartRunAt(startCtx, cfg.Scope, cfg.Detect, cfg.Started)
	if err != nil {
		r.release()
		return nil, BudgetErr(startCtx, err)
	}
	r.rec = rec
	r.ctx = logctx.With(ctx, slog.Int64("run_id", rec.ID))
	abandoned, err := st.AbandonRuns(r.ctx, rec)
	if err != nil {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "could not mark dead runs abandoned", slog.String("error", err.Error()))
	}
	for _, id := range abandoned {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "an earlier run died without finishing; marked abandoned", slog.Int64("abandoned_run_id", id))
	}
	r.abandoned = abandoned
	// Start from the rate the scope's last run ended with: an hourly job
	// need not learn Webex's limit anew every hour. Not knowing it costs
	// nothing but that.
	if prev, err := st.PreviousRate(startCtx, rec); err != nil {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "could not read the rate the last run ended with; starting at the configured rate", slog.String("error", err.Error()))
	} else if prev > 0 && client.Resume(prev) {
		r.startRate = prev
		r.log.LogAttrs(r.ctx, slog.LevelInfo, "starting at the rate the last run ended with", slog.Float64("rate", prev))
	}

	fetchCtx, cancelFetch := context.WithCancelCause(r.ctx)
	fetchCtx, stopBudget := withBudget(fetchCtx, cfg.Clock, began, cfg.MaxDuration, errBudget)
	r.fetchCtx, r.cancelFetch = fetchCtx, cancelFetch
	r.stopTimers = func() {
		stopBudget()
		cancelFetch(nil)
	}
	return r, nil
}

// execute sweeps the listing, writes the work list and fetches the due
// devices, while the lock keeper checks the lock. It records why fetching
// stopped in r.fetchErr.
func (r *run) execute() {
	cfg, log := r.cfg, r.log
	g, gctx := errgroup.WithContext(r.fetchCtx)
	g.Go(func() error { return keepLock(gctx, r.lock, log) })
	g.Go(func() error {
		if err := r.sweepAndQueue(gctx); err != nil {
			return err
		}
		log.LogAttrs(r.ctx, slog.LevelInfo, "run started", slog.String("scope", r.rec.Scope.String()),
			slog.String("detect", string(cfg.Detect)), slog.Int("devices_due", r.rec.Total),
			slog.Int("devices_confirmed", r.listing.Confirmed), slog.Int("concurrency", cfg.Concurrency))
		return r.fetchAll(gctx)
	})
	err := g.Wait()
	if errors.Is(err, errDone) {
		err = nil
	}
	r.fetchErr = err
}

// fetchAll fetches the work list's devices with cfg.Concurrency workers and
// hands the results to the writer, which stores them in batches. The
// writer outlives a cancelled fetch, to store what was already received.
func (r *run) fetchAll(ctx context.Context) error {
	cfg, log := r.cfg, r.log
	r.w = &writer{st: r.st, run: r.rec, cfg: cfg, log: log, client: r.client, start: r.start,
		results: make(chan store.Result, cfg.BatchSize), done: make(chan struct{})}
	go func() {
		defer close(r.w.done)
		wctx, cancel := afterStop(r.ctx)
		defer cancel()
		if err := r.w.loop(wctx); err != nil {
			r.cancelFetch(err) // loop recorded it in r.w.err
		}
	}()
	defer func() {
		close(r.w.results)
		<-r.w.done
	}()
	g, gctx := errgroup.WithContext(ctx)
	due := make(chan store.DueDevice, cfg.Concurrency*2)
	g.Go(func() error {
		defer close(due)
		return r.st.DueDevices(gctx, r.rec, cfg.PageSize, func(d store.DueDevice) error {
			select {
			case due <- d:
				return nil
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		})
	})
	for range cfg.Concurrency {
		g.Go(func() error { return fetchLoop(gctx, r.client, cfg, log, due, r.w, r.cancelFetch) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return errDone // stops the lock keeper
}

// finish records how the run ended and recounts its accounting.
func (r *run) finish() Summary {
	defer r.stopTimers()
	cfg := r.cfg
	after := r.client.Stats()
	var counts store.BatchCounts
	var writeErr error
	if r.w != nil {
		counts, writeErr = r.w.counts, r.w.err
	}
	sum := Summary{
		RunID:     r.rec.ID,
		Scope:     r.rec.Scope,
		Total:     r.rec.Total,
		Requests:  after.Requests - r.before.Requests,
		Throttled: after.Throttled - r.before.Throttled,
		Paused:    after.Paused - r.before.Paused,
		Listing:   r.listing,
		Abandoned: r.abandoned,
	}
	sum.Status, sum.Err = outcome(r.ctx, r.fetchCtx, r.fetchErr, writeErr, counts)
	sum.BudgetReached = errors.Is(context.Cause(r.fetchCtx), errBudget) && r.ctx.Err() == nil

	if sum.BudgetReached && sum.Err == nil {
		// Counted from what the writer stored, so that sync_runs.error says
		// why the run ended; the recount below agrees unless a batch was
		// sent twice.
		left := max(r.rec.Total-counts.OK-counts.NotFound-counts.Failed, 0)
		sum.Err = fmt.Errorf("time budget of %s reached; %d devices left for the next run", cfg.MaxDuration, left)
	}
	f := store.Finish{Status: sum.Status, Throttled: sum.Throttled,
		ListingStatus: string(r.listing.Status), ListingError: r.listing.Error,
		ListingRequests: r.listing.Requests, DetailsRequests: sum.Requests - r.listing.Requests}
	// The counters the batches moved are exact unless a batch was sent
	// twice; without a writer nothing was counted, and a recount costs
	// little.
	f.Counted = r.w != nil && counts.Resent == 0
	sum.StartRate = r.startRate
	if pace, governed := r.client.Pace(); governed {
		f.EndedRate, sum.EndedRate = pace, pace
	}
	if sum.Err != nil {
		f.Error = sum.Err.Error()
	}
	if r.w != nil && cfg.Detect == store.DetectListing && r.listing.Status != ListingOff && r.listing.Status != ListingForbidden &&
		!errors.Is(sum.Err, store.ErrTakenOver) {
		// The listing's check reads the run's listing, which FinishRun
		// drops. It compares every device the run fetched: on a first sync
		// of a large fleet, all of them, hence a bound of its own. A failure
		// to check is logged, and costs the run nothing.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), listingCheckTimeout)
		err := r.checkListing(cctx)
		cancel()
		if err != nil {
			r.log.LogAttrs(r.ctx, slog.LevelError, "could not check the device listing against the details", slog.String("error", err.Error()))
		}
	}
	var final store.FinalCounts
	var err error
	takenOver := errors.Is(sum.Err, store.ErrTakenOver)
	if takenOver {
		// Whichever part of the run heard of it first (a write, the lock's
		// renewal), the run says so once.
		r.log.LogAttrs(r.ctx, slog.LevelError, "another run took over this run's scope; stopped, having stored nothing since",
			slog.String("error", sum.Err.Error()))
	} else {
		// A run taken over cannot record its end: the run that took over
		// marked it abandoned.
		fctx, cancel := afterStop(r.ctx)
		defer cancel()
		sum.DetailsAge, sum.DetailsAgeKnown = r.recordDetailsAge(fctx)
		final, err = r.st.FinishRun(fctx, r.rec.ID, f)
		if err != nil && sum.Err == nil {
			sum.Status, sum.Err = store.RunFailed, err
		} else if err != nil {
			sum.Err = fmt.Errorf("%w (and recording the run's end failed: %v)", sum.Err, err)
		}
	}
	if takenOver || err != nil {
		// The database could not recount, or this run may no longer ask it
		// to: report what the writer stored.
		final = store.FinalCounts{OK: counts.OK, NotFound: counts.NotFound, Failed: counts.Failed,
			Changed: counts.Changed, Changes: counts.Changes,
			Skipped: max(r.rec.Total-counts.OK-counts.NotFound-counts.Failed, 0)}
	}
	sum.Counts = final
	sum.Listing = r.listing
	sum.Duration = time.Since(r.start)
	return sum
}

// recordDetailsAge measures how stale the scope's details are now that the
// run stored what it fetched, and records it on the run. A failure costs
// the run nothing but the figure: it is logged.
func (r *run) recordDetailsAge(ctx context.Context) (store.DetailsAge, bool) {
	a, err := r.st.DetailsAge(ctx, r.rec.Scope)
	if err == nil {
		err = r.st.SetRunDetailsAge(ctx, r.rec.ID, a)
	}
	if err != nil {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "could not measure how old the details are", slog.String("error", err.Error()))
		return store.DetailsAge{}, false
	}
	return a, true
}

// listingCheckTimeout bounds the check of the listing against the details
// at the end of a run.
const listingCheckTimeout = 2 * time.Minute

var errDone = errors.New("every due device was fetched")

// keepLock renews the run lock until ctx ends. If another run took the
// scope over (this run was cut off from its database for longer than the
// lease), this one stops fetching: its writes already fail (store.Fenced).
func keepLock(ctx context.Context, lock *store.RunLock, log *slog.Logger) error {
	if err := lock.Keep(ctx, log); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// stopGrace is how long a run goes on storing what it received once it
// was stopped (a signal), even while the database is away: Kubernetes
// allows 30 s between SIGTERM and SIGKILL.
const stopGrace = 15 * time.Second

// afterStop returns a context for the writes that store what a run
// received: it is not cancelled with ctx, but ends stopGrace after it.
func afterStop(ctx context.Context) (context.Context, context.CancelFunc) {
	g, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(stopGrace, cancel)
		context.AfterFunc(g, func() { t.Stop() })
	})
	return g, func() {
		stop()
		cancel()
	}
}

// outcome decides a run's status from how its parts ended.
func outcome(ctx, fetchCtx context.Context, fetchErr, writeErr error, c store.BatchCounts) (store.RunStatus, error) {
	switch {
	case writeErr != nil:
		return store.RunFailed, writeErr
	case errors.Is(fetchErr, ErrUnauthorized), errors.Is(fetchErr, store.ErrTakenOver),
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
	if err := stopsTheRun(fe, "device "+id); err != nil {
		log.LogAttrs(ctx, slog.LevelError, errors.Unwrap(err).Error()+"; stopping the run", attrs...)
		return nil, err
	}
	var outcome store.Outcome
	switch fe.Kind {
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

// stopsTheRun is the error that ends the whole run for an answer no device
// is to blame for (fetch's StopsEverything: Webex rejected the token, the
// API is unreachable, or its certificate is not trusted), in the run's
// words. It is nil for any other answer. what names the request (a device,
// the listing).
func stopsTheRun(fe *fetch.Error, what string) error {
	if !fe.Kind.StopsEverything() {
		return nil
	}
	switch fe.Kind {
	case fetch.KindUnauthorized:
		return fmt.Errorf("%w (%s): %v", ErrUnauthorized, what, fe)
	case fetch.KindUnreachable:
		return fmt.Errorf("%w: %s", ErrUnreachable, fe.Message)
	case fetch.KindCertificate:
		return fmt.Errorf("%w: %s", ErrCertificate, fe.Message)
	}
	return fmt.Errorf("%s: %w", what, fe)
}
