package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// inTx runs fn in a transaction and commits it, or rolls it back when fn
// fails. The rollback runs even when ctx has ended, so that a cancelled
// command does not leave its connection mid-transaction.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// errDryRun rolls back a dry run's transaction after it has computed what
// would change.
var errDryRun = dryRunError{}

type dryRunError struct{}

func (dryRunError) Error() string { return "dry run: rolled back" }

// inTxMaybeDry is inTx, except that with dryRun the transaction is rolled
// back after fn succeeds: a dry run computes what would change with the
// very statements of a real one.
func (s *Store) inTxMaybeDry(ctx context.Context, dryRun bool, fn func(pgx.Tx) error) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err == errDryRun {
		return nil
	}
	return err
}
