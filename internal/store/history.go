package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// PruneResult is what a history prune deleted (or, for a dry run, would).
type PruneResult struct {
	Rows   int64
	Cutoff time.Time // rows changed before it
}

// PruneHistory deletes the device_changes rows older than days days and
// records the prune in history_prunes, in one transaction. It is the only
// way rows leave the history: the append-only trigger lets a DELETE through
// only in a transaction that has set wxc_sync.allow_history_prune, which
// this does with set_config(..., true), for this transaction alone. The
// role also needs DELETE on device_changes, which the sync role lacks.
func (s *Store) PruneHistory(ctx context.Context, days int, dryRun bool) (PruneResult, error) {
	if dryRun {
		row, err := s.q.CountHistoryBefore(ctx, int32(days))
		if err != nil {
			return PruneResult{}, fmt.Errorf("count history to prune: %w", err)
		}
		return PruneResult{Rows: row.Rows, Cutoff: row.Cutoff}, nil
	}
	var r PruneResult
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.AllowHistoryPrune(ctx); err != nil {
			return err
		}
		row, err := q.PruneHistory(ctx, int32(days))
		r = PruneResult{Rows: row.RowsDeleted, Cutoff: row.Cutoff}
		return err
	})
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune history older than %d days: %w", days, err)
	}
	return r, nil
}
