package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// ReadOnly gives the reports a transaction that reads and cannot write: a
// report file edited into a DELETE deletes nothing.
func TestReadOnlyCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	st := store.New(pool)
	if _, err := st.TrackDevices(ctx, []store.NewDevice{{ID: devID("1")}}, false); err != nil {
		t.Fatal(err)
	}
	var n int
	err := st.ReadOnly(ctx, func(db store.Reader) error {
		rows, err := db.Query(ctx, "SELECT count(*) FROM devices")
		if err != nil {
			return err
		}
		n, err = pgx.CollectExactlyOneRow(rows, pgx.RowTo[int])
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("read %d devices, err %v; want 1", n, err)
	}
	err = st.ReadOnly(ctx, func(db store.Reader) error {
		rows, err := db.Query(ctx, "DELETE FROM devices RETURNING device_id")
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" { // read_only_sql_transaction
		t.Errorf("DELETE in ReadOnly: %v, want read_only_sql_transaction", err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM devices").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d devices after the refused DELETE (%v), want 1", n, err)
	}
}
