package pgadmin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ShiftTimes moves every timestamptz column of the named tables back by d,
// in one transaction: "a day later" for a test or a benchmark that cannot
// wait a day, as if the rows had been written d earlier. It reads the
// columns from the catalog, so a column added later moves too. For
// throwaway databases only: it rewrites every row.
func ShiftTimes(ctx context.Context, pool *pgxpool.Pool, d time.Duration, tables ...string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, table := range tables {
			rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute
				WHERE attrelid = $1::regclass AND atttypid = 'timestamptz'::regtype AND attnum > 0 AND NOT attisdropped
				ORDER BY attnum`, table)
			if err != nil {
				return fmt.Errorf("shift times of %s: %w", table, err)
			}
			cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("shift times of %s: %w", table, err)
			}
			if len(cols) == 0 {
				continue
			}
			sets := make([]string, len(cols))
			for i, c := range cols {
				id := pgx.Identifier{c}.Sanitize()
				sets[i] = id + " = " + id + " - $1::interval"
			}
			sql := "UPDATE " + pgx.Identifier{table}.Sanitize() + " SET " + strings.Join(sets, ", ")
			if _, err := tx.Exec(ctx, sql, d); err != nil {
				return fmt.Errorf("shift times of %s: %w", table, err)
			}
		}
		return nil
	})
}
