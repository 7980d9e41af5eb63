package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// RunStatus is a sync_runs.status value.
type RunStatus string

const (
	RunRunning     RunStatus = "running"
	RunSucceeded   RunStatus = "succeeded"
	RunPartial     RunStatus = "partial"
	RunFailed      RunStatus = "failed"
	RunInterrupted RunStatus = "interrupted"
)

// Run is a started sync run.
type Run struct {
	ID        int64
	Scope     Scope
	StartedAt time.Time
	Total     int // devices in its work list, once queued
}

// Detect is how a run decides which devices need their details.
type Detect string

const (
	// DetectListing reads GET /v1/devices first and fetches the details of
	// the devices the listing cannot vouch for.
	DetectListing Detect = "listing"
	// DetectNone fetches every device's details.
	DetectNone Detect = "none"
)

// StartRun records a new run of scope, started now. Callers hold the
// scope's RunLock, and write the run's work list with QueueDue.
func (s *Store) StartRun(ctx context.Context, scope Scope, detect Detect) (Run, error) {
	return s.StartRunAt(ctx, scope, detect, time.Time{})
}

// StartRunAt is StartRun for a run whose clock started at started (the
// process start: connecting and waiting for the lock are part of the run's
// time); zero means now.
func (s *Store) StartRunAt(ctx context.Context, scope Scope, detect Detect, started time.Time) (Run, error) {
	if detect == "" {
		detect = DetectNone
	}
	var at *time.Time
	if !started.IsZero() {
		at = &started
	}
	params := dbsqlc.StartRunParams{Scope: scope.String(), Detect: string(detect), StartedAt: at}
	if s.lock == nil {
		// Not idempotent, so not tried again: a start whose answer was lost
		// may have been recorded.
		row, err := s.q.StartRun(ctx, params)
		if err != nil {
			return Run{}, fmt.Errorf("start run: %w", err)
		}
		return Run{ID: row.RunID, Scope: scope, StartedAt: row.StartedAt}, nil
	}
	// A run's start is recorded on its lease in the same transaction, so
	// that a start sent again after its answer was lost finds the run it
	// recorded instead of recording a second.
	var run Run
	err := s.withRetry(ctx, func(ctx context.Context) error {
		return s.inTx(ctx, func(q *dbsqlc.Queries) error {
			if rec, err := q.LeaseRun(ctx, s.lock.token); err == nil {
				run = Run{ID: rec.RunID, Scope: scope, StartedAt: rec.StartedAt}
				return nil
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			row, err := q.StartRun(ctx, params)
			if err != nil {
				return err
			}
			run = Run{ID: row.RunID, Scope: scope, StartedAt: row.StartedAt}
			return q.RecordLeaseRun(ctx, row.RunID, s.lock.token)
		})
	})
	if err != nil {
		return Run{}, fmt.Errorf("start run: %w", err)
	}
	return run, nil
}

// StartFullRun starts a run that fetches every device of scope (Detect
// none) and writes its work list: StartRun and QueueDue in one call, for
// the tools that drive the store without the listing.
func (s *Store) StartFullRun(ctx context.Context, scope Scope) (Run, error) {
	run, err := s.StartRun(ctx, scope, DetectNone)
	if err != nil {
		return Run{}, err
	}
	if _, err := s.QueueDue(ctx, &run, DueOptions{}); err != nil {
		return Run{}, err
	}
	return run, nil
}

// DueOptions says which devices a run fetches.
type DueOptions struct {
	// UseListing: decide from the run's listing (ApplyListingPage);
	// otherwise every device of the scope is due.
	UseListing bool
	// CompleteOrgs are the org keys ("" for rows without org_id) whose
	// listing was read whole; the listing excuses no device of another org.
	CompleteOrgs []string
	// DistrustedOrgs are org keys whose listing is not trusted to excuse
	// any device (issue 13's fallback).
	DistrustedOrgs []string
	// MaxAge: details older than this are fetched whatever the listing
	// says.
	MaxAge time.Duration
	// RefreshShare is the share of the devices with details that the run
	// refreshes, stalest first, overdue or not (at least every overdue
	// one): the run interval over MaxAge, so that the refreshes are spread
	// evenly over the runs instead of falling due all in one. 0 refreshes
	// only the overdue.
	RefreshShare float64
	// SampleFraction of the devices the listing vouches for, at least
	// SampleMin of them, are fetched all the same, chosen at random, to
	// check the listing.
	SampleFraction float64
	SampleMin      int
}

// QueueCounts is a run's work list: how many devices are due, for which
// reason, and how many the listing vouched for.
type QueueCounts struct {
	Due       int
	Confirmed int
	ByReason  map[string]int // reason -> devices, for the due ones
}

// QueueDue writes run's work list (what may have changed first, refreshes
// last, stalest first within each; with why each device is due) and
// records its size; run.Total is set from it.
func (s *Store) QueueDue(ctx context.Context, run *Run, o DueOptions) (QueueCounts, error) {
	var rows []dbsqlc.QueueDueDevicesRow
	// Tried again after a lost connection: the list is written anew.
	err := s.withRetry(ctx, func(ctx context.Context) error {
		return s.inTx(ctx, func(q *dbsqlc.Queries) error {
			if err := q.RaiseWorkMem(ctx, scopeWorkMem); err != nil {
				return err
			}
			if err := q.ClearRunQueue(ctx, run.ID); err != nil {
				return err
			}
			rows = nil
			if !o.UseListing {
				// Every device is due: the list without the reasons.
				n, err := q.QueueAllDevices(ctx, dbsqlc.QueueAllDevicesParams{
					RunID: run.ID, ShardCount: int32(run.Scope.Count), ShardIndex: int32(run.Scope.Index)})
				if err != nil || n == 0 {
					return err
				}
				rows = []dbsqlc.QueueDueDevicesRow{{Reason: "all", Devices: n}}
				return nil
			}
			var err error
			rows, err = q.QueueDueDevices(ctx, dbsqlc.QueueDueDevicesParams{
				RunID: run.ID, ShardCount: int32(run.Scope.Count), ShardIndex: int32(run.Scope.Index),
				UseListing: o.UseListing, CompleteOrgs: nonNil(o.CompleteOrgs), DistrustedOrgs: nonNil(o.DistrustedOrgs),
				MaxAgeSeconds: o.MaxAge.Seconds(), RefreshShare: min(max(o.RefreshShare, 0), 1),
				SampleFraction: o.SampleFraction, SampleMin: int32(o.SampleMin),
			})
			return err
		})
	})
	if err != nil {
		return QueueCounts{}, fmt.Errorf("queue the run's devices: %w", err)
	}
	c := QueueCounts{ByReason: map[string]int{}}
	for _, r := range rows {
		if r.Reason == "" {
			c.Confirmed += int(r.Devices)
			continue
		}
		c.Due += int(r.Devices)
		c.ByReason[r.Reason] += int(r.Devices)
	}
	run.Total = c.Due
	return c, nil
}

// scopeWorkMem is the work_mem the statements that read the whole scope
// at once (the work list, the age of the details) run with, in their own
// transaction: enough to sort and hash about 200,000 devices in memory.
// A larger setting (the role's, the database's) is kept.
const scopeWorkMem = "64MB"

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AbandonRuns marks as abandoned the runs left running in the scope of run
// by processes that died or lost their lock, and returns their IDs.
// Callers hold the scope's RunLock, which is what proves those runs over:
// none of them can commit anything more.
func (s *Store) AbandonRuns(ctx context.Context, run Run) ([]int64, error) {
	var ids []int64
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		ids, err = s.q.AbandonRuns(ctx, dbsqlc.AbandonRunsParams{FoundBy: run.ID, Scope: run.Scope.String()})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mark abandoned runs: %w", err)
	}
	return ids, nil
}

// FinalCounts is a finished run's accounting, recounted from the tables.
type FinalCounts struct {
	OK, NotFound, Failed, Changed, Changes, Skipped int
}

// Finish is how a run ended, for FinishRun.
type Finish struct {
	Status    RunStatus
	Error     string // empty for a clean end
	Throttled int64
	// The listing sweep: its status ("" without one), why it was not
	// complete, and the requests it sent; the details requests.
	ListingStatus   string
	ListingError    string
	ListingRequests int64
	DetailsRequests int64
	// EndedRate is the rate (requests per second) the client was sending
	// at when the run ended, if Webex's 429s had moved it under the
	// configured rate; 0: none. The next run of the scope starts there
	// (PreviousRate).
	EndedRate float64
	// Counted says the run's counters are exact: no batch was sent twice
	// (BatchCounts.Resent is 0). Otherwise, and by default, FinishRun
	// recounts them from the tables.
	Counted bool
}

// FinishRun records how a run ended, recounts its accounting from the rows
// it wrote unless f.Counted says its counters are exact, and drops its work
// list and listing. A run that another run took over cannot
// (ErrTakenOver): the run that took over marked it abandoned.
func (s *Store) FinishRun(ctx context.Context, runID int64, f Finish) (FinalCounts, error) {
	var row dbsqlc.FinishRunRow
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		row, err = s.q.FinishRun(ctx, dbsqlc.FinishRunParams{
			RunID: runID, Status: string(f.Status), Error: nullable(f.Error), Throttled: clampInt32(f.Throttled),
			ListingStatus: nullable(f.ListingStatus), ListingError: nullable(f.ListingError),
			ListingRequests: clampInt32(f.ListingRequests), DetailsRequests: clampInt32(f.DetailsRequests),
			EndedRate: positive(f.EndedRate), Recount: !f.Counted,
		})
		return err
	})
	if err != nil {
		return FinalCounts{}, fmt.Errorf("finish run %d: %w", runID, err)
	}
	return FinalCounts{OK: int(row.DevicesOk), NotFound: int(row.DevicesNotFound), Failed: int(row.DevicesFailed),
		Changed: int(row.DevicesChanged), Changes: int(row.ChangesRecorded), Skipped: int(row.DevicesSkipped)}, nil
}

// NewFailures counts the devices run runID failed, leaving out those that
// are forbidden and were failing in the run before too: the known, stable
// set a location admin's token cannot see (run --tolerate-forbidden).
func (s *Store) NewFailures(ctx context.Context, runID int64) (int, error) {
	var n int32
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		n, err = s.q.CountNewFailures(ctx, runID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count the new failures of run %d: %w", runID, err)
	}
	return int(n), nil
}

func clampInt32(n int64) int32 { return int32(max(min(n, 1<<31-1), 0)) }

// positive is v when it is a finite number above 0, else NULL.
func positive(v float64) *float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// PreviousRate is the rate the scope's last finished run before run ended
// with, for run to start from; 0 when it paced at the configured rate, or
// there is no such run. Runs that sent no request, and runs that died, do
// not count.
func (s *Store) PreviousRate(ctx context.Context, run Run) (float64, error) {
	var r *float64
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		r, err = s.q.PreviousEndedRate(ctx, run.Scope.String(), run.ID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the rate the last run ended with: %w", err)
	}
	if r == nil {
		return 0, nil
	}
	return *r, nil
}

// DueDevice is a device a run has to fetch.
type DueDevice struct {
	ID    string
	OrgID string // empty when the row has none
}

// DueDevices calls yield for every device in run's work list, in order,
// reading pageSize rows at a time so that the list is never held in memory.
// It stops at the first error yield returns.
func (s *Store) DueDevices(ctx context.Context, run Run, pageSize int, yield func(DueDevice) error) error {
	after := int32(0)
	for {
		var page []dbsqlc.DuePageRow
		err := s.withRetry(ctx, func(ctx context.Context) error {
			var err error
			page, err = s.q.DuePage(ctx, dbsqlc.DuePageParams{RunID: run.ID, AfterPos: after, PageSize: int32(pageSize)})
			return err
		})
		if err != nil {
			return fmt.Errorf("read due devices: %w", err)
		}
		if len(page) > 0 {
			after = page[len(page)-1].Pos
		}
		// The page is read in full before it is handed out, so that no
		// query stays open while the caller waits on the API.
		for _, d := range page {
			if err := yield(DueDevice{ID: d.DeviceID, OrgID: d.OrgID}); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}
