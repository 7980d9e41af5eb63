package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Reader runs the reports' statements (queries/reports and the fleet
// page's): report.Querier.
type Reader interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadOnly runs fn in a read-only transaction, for the reports: their SQL,
// which an operator may edit, cannot change the inventory, and every
// statement fn sends sees the same snapshot.
func (s *Store) ReadOnly(ctx context.Context, fn func(Reader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // nothing to keep: it wrote nothing
	}()
	return fn(tx)
}
