package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// db is what the store runs its statements on: the pool, or a run's
// fenced transactions on it.
type db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	Begin(context.Context) (pgx.Tx, error)
}

// fencedDB runs every statement of a run in a transaction of its own on
// the pool (or in the caller's, from Begin), whose first statement checks
// the run's lease (RunLock.fence): once another run has taken the scope
// over, no transaction of this run commits, and one that began before
// holds the lease's row until it ends, so that the take-over waits for it.
// Any connection of the pool will do, so a run survives losing one.
type fencedDB struct {
	pool *pgxpool.Pool
	lock *RunLock
}

func (f fencedDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.lock.fence(ctx, tx); err != nil {
		rollback(ctx, tx)
		return nil, err
	}
	return tx, nil
}

func (f fencedDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, f, func(tx pgx.Tx) error {
		var err error
		tag, err = tx.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

func (f fencedDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return fencedRow{f: f, ctx: ctx, sql: sql, args: args}
}

// fencedRow runs its statement, in its transaction, when it is scanned.
type fencedRow struct {
	f    fencedDB
	ctx  context.Context
	sql  string
	args []any
}

func (r fencedRow) Scan(dest ...any) error {
	return pgx.BeginFunc(r.ctx, r.f, func(tx pgx.Tx) error {
		return tx.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	})
}

func (f fencedDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	tx, err := f.Begin(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		rollback(ctx, tx)
		return nil, err
	}
	return &fencedRows{Rows: rows, ctx: ctx, tx: tx}, nil
}

// fencedRows commits its transaction once the rows have been read to the
// end, before Next says there are no more, so that a statement that writes
// and returns rows (:many) reports a failed commit through Err; rows closed
// before their end roll back.
type fencedRows struct {
	pgx.Rows
	ctx  context.Context
	tx   pgx.Tx
	done bool
	err  error
}

func (r *fencedRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.end(true)
	return false
}

func (r *fencedRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *fencedRows) Close() { r.end(false) }

// end closes the rows and ends the transaction: a commit when they were
// read to the end without an error, else a rollback.
func (r *fencedRows) end(read bool) {
	if r.done {
		return
	}
	r.done = true
	r.Rows.Close()
	if !read || r.Rows.Err() != nil {
		rollback(r.ctx, r.tx)
		return
	}
	if err := r.tx.Commit(r.ctx); err != nil {
		r.err = fmt.Errorf("commit: %w", err)
	}
}

// rollback rolls tx back even when ctx has ended, for at most
// rollbackTimeout, so that its connection goes back to the pool clean.
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = tx.Rollback(rctx) // a broken connection: the pool drops it
}
