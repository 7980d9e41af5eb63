package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// BenchmarkApplyResults measures the write path alone: devices per second
// stored in batches of 500, with a given share of devices whose IP changed
// since the last write (each change is a device update plus a history row).
//
//	go test -run '^$' -bench ApplyResults -benchtime 5x ./internal/store/
func BenchmarkApplyResults(b *testing.B) {
	const fleet, batch = 5000, 500
	for _, share := range []float64{0, 0.1, 1} {
		b.Run(fmt.Sprintf("changed=%.0f%%", share*100), func(b *testing.B) {
			pool := pgtest.DB(b)
			st := store.New(pool)
			ctx := context.Background()
			ids := make([]string, fleet)
			for i := range ids {
				ids[i] = fmt.Sprintf("BENCH-%06d", i)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id) SELECT unnest($1::text[])`, ids); err != nil {
				b.Fatal(err)
			}
			results := func(gen int) []store.Result {
				rs := make([]store.Result, fleet)
				changed := int(share * fleet)
				for i, id := range ids {
					g := 0
					if i < changed {
						g = gen
					}
					d := phone(id, netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)}).String(), fmt.Sprintf("0000%08X", i), device.ActivationActivated)
					rs[i] = store.Result{DeviceID: id, Outcome: store.OutcomeOK, Device: d}
				}
				return rs
			}
			write := func(gen int) {
				run, err := st.StartFullRun(ctx, store.All)
				if err != nil {
					b.Fatal(err)
				}
				rs := results(gen)
				for i := 0; i < fleet; i += batch {
					if _, err := st.ApplyResults(ctx, run.ID, rs[i:i+batch]); err != nil {
						b.Fatal(err)
					}
				}
			}
			write(0) // the first sync: inserts every initial history row
			gen := 0
			for b.Loop() {
				gen++
				write(gen)
			}
			b.ReportMetric(float64(fleet*b.N)/b.Elapsed().Seconds(), "devices/s")
		})
	}
}
