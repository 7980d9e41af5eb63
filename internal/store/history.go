package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/queries"
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
	var r PruneResult
	if dryRun {
		err := s.pool.QueryRow(ctx, queries.Get("CountHistoryBefore"), pgx.NamedArgs{"days": days}).Scan(&r.Rows, &r.Cutoff)
		if err != nil {
			return PruneResult{}, fmt.Errorf("count history to prune: %w", err)
		}
		return r, nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('wxc_sync.allow_history_prune', 'on', true)"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, queries.Get("PruneHistory"), pgx.NamedArgs{"days": days}).Scan(&r.Rows, &r.Cutoff)
	})
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune history older than %d days: %w", days, err)
	}
	return r, nil
}
