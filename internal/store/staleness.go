package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// RecentRunInterval is how often run's scope runs: the median time between
// the starts of its last six runs, run included; 0 before its second run.
func (s *Store) RecentRunInterval(ctx context.Context, run Run) (time.Duration, error) {
	var secs float64
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		secs, err = s.q.RecentRunInterval(ctx, run.Scope.String(), run.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read how often scope %s runs: %w", run.Scope, err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// DetailsAge is how stale the details held for a scope's devices are.
type DetailsAge struct {
	Devices     int // tracked devices of the scope
	WithDetails int // of them, those with details to age (not gone, synced at least once)
	Gone        int // devices Webex answered 404 for
	// Oldest and P99 are the age of the oldest details and the 99th
	// percentile; zero when no device has details.
	Oldest, P99 time.Duration
}

// DetailsAge measures, now, how stale the details of scope's devices are.
func (s *Store) DetailsAge(ctx context.Context, scope Scope) (DetailsAge, error) {
	var row dbsqlc.DetailsAgeRow
	err := s.withRetry(ctx, func(ctx context.Context) error {
		return s.inTx(ctx, func(q *dbsqlc.Queries) error {
			if err := q.RaiseWorkMem(ctx, scopeWorkMem); err != nil {
				return err
			}
			var err error
			row, err = q.DetailsAge(ctx, int32(scope.Count), int32(scope.Index))
			return err
		})
	})
	if err != nil {
		return DetailsAge{}, fmt.Errorf("measure the age of the details: %w", err)
	}
	return DetailsAge{Devices: int(row.Devices), WithDetails: int(row.WithDetails), Gone: int(row.Gone),
		Oldest: seconds(row.AgeMaxSeconds), P99: seconds(row.AgeP99Seconds)}, nil
}

// SetRunDetailsAge records a on run runID's row (NULL when no device has
// details).
func (s *Store) SetRunDetailsAge(ctx context.Context, runID int64, a DetailsAge) error {
	p := dbsqlc.SetRunDetailsAgeParams{RunID: runID}
	if a.WithDetails > 0 {
		oldest, p99 := a.Oldest.Seconds(), a.P99.Seconds()
		p.AgeMaxSeconds, p.AgeP99Seconds = &oldest, &p99
	}
	err := s.withRetry(ctx, func(ctx context.Context) error { return s.q.SetRunDetailsAge(ctx, p) })
	if err != nil {
		return fmt.Errorf("record the age of the details on run %d: %w", runID, err)
	}
	return nil
}

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
