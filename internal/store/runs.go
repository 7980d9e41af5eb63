package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wxc-inventory/wxc-sync/queries"
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
	Total     int
}

func scopeArgs(sc Scope, args pgx.NamedArgs) pgx.NamedArgs {
	args["scope"] = sc.String()
	args["shard_index"] = sc.Index
	args["shard_count"] = sc.Count
	return args
}

// StartRun records a new run of scope and counts the devices it is to
// fetch. Callers hold the scope's RunLock.
func (s *Store) StartRun(ctx context.Context, scope Scope) (Run, error) {
	r := Run{Scope: scope}
	err := s.pool.QueryRow(ctx, queries.Get("StartRun"), scopeArgs(scope, pgx.NamedArgs{})).Scan(&r.ID, &r.StartedAt, &r.Total)
	if err != nil {
		return Run{}, fmt.Errorf("start run: %w", err)
	}
	return r, nil
}

// AbandonRuns marks as abandoned the runs left running in the scope of run
// by processes that died, and returns their IDs. Callers hold the scope's
// RunLock, which is what proves those processes dead.
func (s *Store) AbandonRuns(ctx context.Context, run Run) ([]int64, error) {
	rows, err := s.pool.Query(ctx, queries.Get("AbandonRuns"), scopeArgs(run.Scope, pgx.NamedArgs{"found_by": run.ID}))
	if err != nil {
		return nil, fmt.Errorf("mark abandoned runs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("mark abandoned runs: %w", err)
	}
	return ids, nil
}

// FinalCounts is a finished run's accounting, recounted from the tables.
type FinalCounts struct {
	OK, NotFound, Failed, Changed, Changes, Skipped int
}

// FinishRun records how a run ended and recounts its accounting from the
// rows it wrote. errMsg is empty for a clean end.
func (s *Store) FinishRun(ctx context.Context, runID int64, status RunStatus, errMsg string, throttled int64) (FinalCounts, error) {
	var e *string
	if errMsg != "" {
		m := cleanText(errMsg)
		e = &m
	}
	var c FinalCounts
	err := withRetry(ctx, func() error {
		return s.pool.QueryRow(ctx, queries.Get("FinishRun"), pgx.NamedArgs{
			"run_id": runID, "status": string(status), "error": e, "throttled": throttled,
		}).Scan(&c.OK, &c.NotFound, &c.Failed, &c.Changed, &c.Changes, &c.Skipped)
	})
	if err != nil {
		return FinalCounts{}, fmt.Errorf("finish run %d: %w", runID, err)
	}
	return c, nil
}

// DueDevice is a device a run has to fetch.
type DueDevice struct {
	ID    string
	OrgID string // empty when the row has none

	key pgtype.Timestamptz // its place in the stalest-first order
}

func (s *Store) duePage(ctx context.Context, run Run, afterKey pgtype.Timestamptz, afterID string, pageSize int) ([]DueDevice, error) {
	rows, err := s.pool.Query(ctx, queries.Get("DueDevices"), scopeArgs(run.Scope, pgx.NamedArgs{
		"run_started": run.StartedAt, "after_key": afterKey, "after_id": afterID, "page_size": pageSize,
	}))
	if err != nil {
		return nil, err
	}
	page := make([]DueDevice, 0, pageSize)
	for rows.Next() {
		var d DueDevice
		if err := rows.Scan(&d.ID, &d.OrgID, &d.key); err != nil {
			rows.Close()
			return nil, err
		}
		page = append(page, d)
	}
	return page, rows.Err()
}

// DueDevices calls yield for every device due in run, stalest first, reading
// pageSize rows at a time so that the table is never held in memory. It
// stops at the first error yield returns.
func (s *Store) DueDevices(ctx context.Context, run Run, pageSize int, yield func(DueDevice) error) error {
	afterKey := pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	afterID := ""
	for {
		var page []DueDevice
		err := withRetry(ctx, func() error {
			var err error
			page, err = s.duePage(ctx, run, afterKey, afterID, pageSize)
			return err
		})
		if err != nil {
			return fmt.Errorf("read due devices: %w", err)
		}
		if len(page) > 0 {
			afterKey, afterID = page[len(page)-1].key, page[len(page)-1].ID
		}
		// The page is read in full before it is handed out, so that no
		// query stays open while the caller waits on the API.
		for _, d := range page {
			if err := yield(d); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}
