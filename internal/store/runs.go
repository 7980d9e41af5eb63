package store

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	Total     int // devices in its work list
}

// StartRun records a new run of scope, started now, and writes its work
// list: every tracked device of the scope, stalest first. Callers hold the
// scope's RunLock.
func (s *Store) StartRun(ctx context.Context, scope Scope) (Run, error) {
	return s.StartRunAt(ctx, scope, time.Time{})
}

// StartRunAt is StartRun for a run whose clock started at started (the
// process start: connecting and waiting for the lock are part of the run's
// time); zero means now.
func (s *Store) StartRunAt(ctx context.Context, scope Scope, started time.Time) (Run, error) {
	var r Run
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		var at *time.Time
		if !started.IsZero() {
			at = &started
		}
		row, err := q.StartRun(ctx, scope.String(), at)
		if err != nil {
			return err
		}
		total, err := q.QueueDueDevices(ctx, dbsqlc.QueueDueDevicesParams{
			RunID: row.RunID, ShardCount: int32(scope.Count), ShardIndex: int32(scope.Index),
		})
		if err != nil {
			return err
		}
		r = Run{ID: row.RunID, Scope: scope, StartedAt: row.StartedAt, Total: int(total)}
		return nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("start run: %w", err)
	}
	return r, nil
}

// AbandonRuns marks as abandoned the runs left running in the scope of run
// by processes that died, and returns their IDs. Callers hold the scope's
// RunLock, which is what proves those processes dead.
func (s *Store) AbandonRuns(ctx context.Context, run Run) ([]int64, error) {
	ids, err := s.q.AbandonRuns(ctx, dbsqlc.AbandonRunsParams{FoundBy: run.ID, Scope: run.Scope.String()})
	if err != nil {
		return nil, fmt.Errorf("mark abandoned runs: %w", err)
	}
	return ids, nil
}

// FinalCounts is a finished run's accounting, recounted from the tables.
type FinalCounts struct {
	OK, NotFound, Failed, Changed, Changes, Skipped int
}

// FinishRun records how a run ended, recounts its accounting from the rows
// it wrote and drops its work list. errMsg is empty for a clean end. A
// fenced run that lost its lock records its end through the pool: its own
// row is all it touches, and the record is the truth (it failed).
func (s *Store) FinishRun(ctx context.Context, runID int64, status RunStatus, errMsg string, throttled int64) (FinalCounts, error) {
	var row dbsqlc.FinishRunRow
	err := s.withRetry(ctx, func() error {
		var err error
		row, err = s.q.FinishRun(ctx, dbsqlc.FinishRunParams{
			RunID: runID, Status: string(status), Error: nullable(errMsg), Throttled: int32(min(throttled, 1<<31-1)),
		})
		return err
	})
	if s.lock != nil && errors.Is(err, ErrLockLost) {
		return New(s.pool).FinishRun(ctx, runID, status, errMsg, throttled)
	}
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
	err := s.withRetry(ctx, func() error {
		var err error
		n, err = s.q.CountNewFailures(ctx, runID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count the new failures of run %d: %w", runID, err)
	}
	return int(n), nil
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
		err := s.withRetry(ctx, func() error {
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
