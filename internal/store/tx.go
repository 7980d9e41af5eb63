package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// rollbackTimeout bounds a rollback, which runs even when the caller's
// context has ended (river's RollbackWithoutCancel).
const rollbackTimeout = 5 * time.Second

// bookkeepingTimeout bounds the writes that record how something ended,
// which run even when the caller's context has ended.
const bookkeepingTimeout = 15 * time.Second

// inTx runs fn in a transaction and commits it, or rolls it back when fn
// fails. The rollback runs, for at most rollbackTimeout, even when ctx has
// ended, so that a cancelled command does not leave its connection
// mid-transaction.
func (s *Store) inTx(ctx context.Context, fn func(*dbsqlc.Queries) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := fn(s.q.WithTx(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// errDryRun rolls back a dry run's transaction after it has computed what
// would change.
var errDryRun = errors.New("dry run: rolled back")

// inTxMaybeDry is inTx, except that with dryRun the transaction is rolled
// back after fn succeeds: a dry run computes what would change with the
// very statements of a real one.
func (s *Store) inTxMaybeDry(ctx context.Context, dryRun bool, fn func(*dbsqlc.Queries) error) error {
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		if err := fn(q); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}
