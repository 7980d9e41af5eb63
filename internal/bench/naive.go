package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// scenarioNaive is the sync as a hand-written script would do it: read the
// IDs, then for each device one request and one autocommitted statement,
// one after the other. It uses the job's own client and its own per-device
// statement (ApplyResults with a batch of one), so the difference it shows
// is the shape of the work alone: no concurrency, no batching.
func (b *bencher) scenarioNaive(ctx context.Context) error {
	return b.withFleet(b.cfg.NaiveDevices, func(f *fleet) error {
		fig := b.res.figure(FigNaive, "naive: 1 request at a time, 1 autocommit per device", "devices/s")
		for run := range b.cfg.NaiveRuns {
			db, err := b.openDB(ctx)
			if err != nil {
				return err
			}
			s, err := func() (Sample, error) {
				defer db.close()
				if err := db.track(ctx, f.ids); err != nil {
					return Sample{}, err
				}
				f.sim.ResetStats()
				client, err := newClient(f.base, rate.Inf, 1)
				if err != nil {
					return Sample{}, err
				}
				st := store.New(db.pool)
				start := time.Now()
				r, err := st.StartFullRun(ctx, store.All)
				if err != nil {
					return Sample{}, err
				}
				rows, err := db.pool.Query(ctx, "SELECT device_id FROM devices ORDER BY device_id")
				if err != nil {
					return Sample{}, err
				}
				var ids []string
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						return Sample{}, err
					}
					ids = append(ids, id)
				}
				if err := rows.Err(); err != nil {
					return Sample{}, err
				}
				// A full naive pass over 100,000 devices takes minutes of
				// fsync'd commits; past NaiveSeconds the rate is sampled from
				// the devices done so far, on the same full table.
				done := 0
				for _, id := range ids {
					if b.cfg.NaiveSeconds > 0 && time.Since(start) > time.Duration(b.cfg.NaiveSeconds*float64(time.Second)) {
						break
					}
					done++
					d, err := client.Device(ctx, id, "")
					if err != nil {
						return Sample{}, fmt.Errorf("device %s: %w", id, err)
					}
					res := []store.Result{{DeviceID: id, Outcome: store.OutcomeOK, Device: d}}
					if _, err := st.ApplyResults(ctx, r.ID, res); err != nil {
						return Sample{}, err
					}
				}
				if _, err := st.FinishRun(ctx, r.ID, store.Finish{Status: store.RunSucceeded}); err != nil {
					return Sample{}, err
				}
				el := time.Since(start)
				c, err := db.counts(ctx)
				if err != nil {
					return Sample{}, err
				}
				if c.ok != done {
					return Sample{}, fmt.Errorf("%d devices ok, %d synced", c.ok, done)
				}
				sst := f.sim.Stats()
				return Sample{Value: perSecond(c.ok, el), Devices: len(f.ids), OK: c.ok, Seconds: Seconds(el.Seconds()),
					HistoryRows: c.history, Requests: sst.Requests, Accepted: sst.ByStatus[http.StatusOK]}, nil
			}()
			if err != nil {
				return fmt.Errorf("run %d: %w", run+1, err)
			}
			fig.add(s)
			b.logf("naive  run %d: %d devices in %s = %.0f devices/s", run+1, s.OK, s.Seconds, s.Value)
		}
		return nil
	})
}
