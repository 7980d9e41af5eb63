package store_test

import (
	"context"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// TestFailDiscoveryRecordsAfterCancellation: a discovery stopped by a
// signal still records that it failed (within a bounded time of its own).
func TestFailDiscoveryRecordsAfterCancellation(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	d, err := st.StartDiscovery(context.Background(), "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.FailDiscovery(ctx, d, store.DiscoveryCounts{Pages: 2}, "interrupted"); err != nil {
		t.Fatalf("FailDiscovery after cancellation: %v", err)
	}
	var status, reason string
	if err := pool.QueryRow(context.Background(), `SELECT status, error FROM discovery_runs WHERE discovery_id = $1`, d.ID).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || reason != "interrupted" {
		t.Errorf("discovery recorded %q (%q), want failed (interrupted)", status, reason)
	}
}
