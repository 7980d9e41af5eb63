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
	StartedAt time.Time
	Total     int
}

// StartRun records a new run and counts the devices it is to fetch.
func (s *Store) StartRun(ctx context.Context) (Run, error) {
	var r Run
	err := s.pool.QueryRow(ctx, queries.Get("StartRun")).Scan(&r.ID, &r.StartedAt, &r.Total)
	if err != nil {
		return Run{}, fmt.Errorf("start run: %w", err)
	}
	return r, nil
}

// FinishRun records how a run ended. errMsg is empty for a clean end.
func (s *Store) FinishRun(ctx context.Context, runID int64, status RunStatus, errMsg string) error {
	var e *string
	if errMsg != "" {
		m := cleanText(errMsg)
		e = &m
	}
	_, err := s.pool.Exec(ctx, queries.Get("FinishRun"), pgx.NamedArgs{
		"run_id": runID, "status": string(status), "error": e,
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", runID, err)
	}
	return nil
}

// DueDevice is a device a run has to fetch.
type DueDevice struct {
	ID    string
	OrgID string // empty when the row has none
}

// DueDevices calls yield for every device due in run, stalest first, reading
// pageSize rows at a time so that the table is never held in memory. It
// stops at the first error yield returns.
func (s *Store) DueDevices(ctx context.Context, run Run, pageSize int, yield func(DueDevice) error) error {
	afterKey := pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	afterID := ""
	for {
		rows, err := s.pool.Query(ctx, queries.Get("DueDevices"), pgx.NamedArgs{
			"run_started": run.StartedAt, "after_key": afterKey, "after_id": afterID, "page_size": pageSize,
		})
		if err != nil {
			return fmt.Errorf("read due devices: %w", err)
		}
		page := make([]DueDevice, 0, pageSize)
		for rows.Next() {
			var d DueDevice
			if err := rows.Scan(&d.ID, &d.OrgID, &afterKey); err != nil {
				rows.Close()
				return fmt.Errorf("read due devices: %w", err)
			}
			afterID = d.ID
			page = append(page, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read due devices: %w", err)
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
