package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// fleet is an unlimited simulator of cfg.Devices devices, shared by the
// scenarios that need one.
type fleet struct {
	sim  *webexsim.Sim
	base string
	ids  []string
}

func (b *bencher) withFleet(n int, fn func(*fleet) error) error {
	sim, base, err := startSim(webexsim.Config{Devices: n})
	if err != nil {
		return err
	}
	defer sim.Close()
	return fn(&fleet{sim: sim, base: base, ids: sim.IDs()})
}

// scenarioHTTP measures H: the job's client fetching and decoding every
// device from the simulator over loopback, with the run's concurrency and no
// database.
func (b *bencher) scenarioHTTP(ctx context.Context) error {
	return b.withFleet(b.cfg.Devices, func(f *fleet) error {
		fig := b.res.figure(FigHTTP, "H: GET+decode, no database", "devices/s")
		rawFig := b.res.figure(FigHTTPRaw, "H0: GET, bodies read and not decoded, no database", "devices/s")
		for run := range b.cfg.Runs {
			f.sim.ResetStats()
			client, err := newClient(f.base, rate.Inf, 1)
			if err != nil {
				return err
			}
			start := time.Now()
			ok, err := fetchAll(ctx, client, f.ids, b.cfg.Concurrency)
			el := time.Since(start)
			if err != nil {
				return err
			}
			st := f.sim.Stats()
			s := Sample{Value: perSecond(ok, el), Devices: len(f.ids), OK: ok, Seconds: Seconds(el.Seconds()),
				Requests: st.Requests, Accepted: st.ByStatus[http.StatusOK]}
			fig.add(s)
			b.logf("http   run %d: %d devices in %s = %.0f devices/s", run+1, ok, s.Seconds, s.Value)

			f.sim.ResetStats()
			start = time.Now()
			ok, err = rawFetchAll(ctx, f.base, f.ids, b.cfg.Concurrency)
			el = time.Since(start)
			if err != nil {
				return err
			}
			raw := Sample{Value: perSecond(ok, el), Devices: len(f.ids), OK: ok, Seconds: Seconds(el.Seconds()),
				Requests: f.sim.Stats().Requests, Accepted: f.sim.Stats().ByStatus[http.StatusOK]}
			rawFig.add(raw)
			b.logf("http   run %d, raw (no decoding): %d devices in %s = %.0f devices/s", run+1, ok, raw.Seconds, raw.Value)
		}
		return nil
	})
}

// scenarioStore measures P: the store's side of a run alone (start the run,
// page through the due IDs, write batches, finish), single-threaded like the
// run's writer, with details decoded beforehand. A second pass over the same
// database is the unchanged re-sync.
func (b *bencher) scenarioStore(ctx context.Context) error {
	return b.withFleet(b.cfg.Devices, func(f *fleet) error {
		decoded, err := decodedFleet(f.sim, f.ids)
		if err != nil {
			return err
		}
		first := b.res.figure(FigStoreFirst, "P: store writes, first sync, no HTTP", "devices/s")
		resync := b.res.figure(FigStoreResync, "P': store writes, unchanged re-sync, no HTTP", "devices/s")
		for run := range b.cfg.Runs {
			db, err := b.openDB(ctx)
			if err != nil {
				return err
			}
			err = func() error {
				defer db.close()
				if err := db.track(ctx, f.ids); err != nil {
					return err
				}
				for pass, fig := range []*Figure{first, resync} {
					before, err := db.counts(ctx)
					if err != nil {
						return err
					}
					start := time.Now()
					n, err := storeOnly(ctx, store.New(db.pool), decoded, b.cfg.BatchSize)
					el := time.Since(start)
					if err != nil {
						return err
					}
					after, err := db.counts(ctx)
					if err != nil {
						return err
					}
					s := Sample{Value: perSecond(n, el), Devices: len(f.ids), OK: after.ok, Seconds: Seconds(el.Seconds()),
						HistoryRows: after.history - before.history}
					if after.ok != len(f.ids) {
						return fmt.Errorf("store pass %d: %d of %d devices ok", pass+1, after.ok, len(f.ids))
					}
					fig.add(s)
					b.logf("store  run %d pass %d: %d devices in %s = %.0f devices/s, %d history rows",
						run+1, pass+1, n, s.Seconds, s.Value, s.HistoryRows)
				}
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// storeOnly is syncrun.Run with the fetch replaced by a map lookup: one
// goroutine pages through the due IDs while another writes the batches, on
// their own connections, as the run's reader and writer do.
func storeOnly(ctx context.Context, st *store.Store, decoded map[string]device.Device, batchSize int) (int, error) {
	run, err := st.StartFullRun(ctx, store.All)
	if err != nil {
		return 0, err
	}
	results := make(chan store.Result, batchSize)
	readErr := make(chan error, 1)
	go func() {
		defer close(results)
		readErr <- st.DueDevices(ctx, run, 1000, func(d store.DueDevice) error {
			results <- store.Result{DeviceID: d.ID, Outcome: store.OutcomeOK, Device: decoded[d.ID]}
			return nil
		})
	}()
	batch := make([]store.Result, 0, batchSize)
	var done int
	var writeErr error
	flush := func() {
		if len(batch) == 0 || writeErr != nil {
			batch = batch[:0]
			return
		}
		c, err := st.ApplyResults(ctx, run.ID, batch)
		done += c.OK + c.NotFound + c.Failed
		batch = batch[:0]
		writeErr = err
	}
	for r := range results {
		batch = append(batch, r)
		if len(batch) >= batchSize {
			flush()
		}
	}
	flush()
	if err := errors.Join(<-readErr, writeErr); err != nil {
		return done, err
	}
	_, err = st.FinishRun(ctx, run.ID, store.Finish{Status: store.RunSucceeded})
	return done, err
}

// scenarioFull runs the real sync twice against an unlimited simulator: the
// first sync (every device's details and initial history) and an unchanged
// re-sync.
func (b *bencher) scenarioFull(ctx context.Context) error {
	return b.withFleet(b.cfg.Devices, func(f *fleet) error {
		first := b.res.figure(FigFullFirst, "full sync, first (unlimited API)", "devices/s")
		resync := b.res.figure(FigFullResync, "full sync, unchanged re-sync (unlimited API)", "devices/s")
		for run := range b.cfg.Runs {
			db, err := b.openDB(ctx)
			if err != nil {
				return err
			}
			err = func() error {
				defer db.close()
				if err := db.track(ctx, f.ids); err != nil {
					return err
				}
				for pass, fig := range []*Figure{first, resync} {
					client, err := newClient(f.base, rate.Inf, 1)
					if err != nil {
						return err
					}
					s, err := b.syncOnce(ctx, db, f.sim, client, b.cfg.Concurrency)
					if err != nil {
						return fmt.Errorf("full run %d pass %d: %w", run+1, pass+1, err)
					}
					fig.add(s)
					b.logf("full   run %d pass %d: %d devices in %s = %.0f devices/s, %d history rows",
						run+1, pass+1, s.OK, s.Seconds, s.Value, s.HistoryRows)
				}
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// syncOnce is one real run, checked: every device must end ok and the run's
// counters must equal what the tables hold.
func (b *bencher) syncOnce(ctx context.Context, db *database, sim *webexsim.Sim, client *fetch.Client, concurrency int) (Sample, error) {
	return b.syncWith(ctx, db, sim, client, syncrun.Config{Concurrency: concurrency, Detect: store.DetectNone}, true)
}

// syncWith is one real run with cfg; with all, every device must be due
// and end ok.
func (b *bencher) syncWith(ctx context.Context, db *database, sim *webexsim.Sim, client *fetch.Client, cfg syncrun.Config, all bool) (Sample, error) {
	sim.ResetStats()
	before, err := db.counts(ctx)
	if err != nil {
		return Sample{}, err
	}
	cfg.BatchSize = b.cfg.BatchSize
	sum, err := syncrun.Run(ctx, store.New(db.pool), client, cfg)
	if err != nil {
		return Sample{}, err
	}
	if sum.Err != nil {
		return Sample{}, fmt.Errorf("run %s: %w", sum.Status, sum.Err)
	}
	after, err := db.counts(ctx)
	if err != nil {
		return Sample{}, err
	}
	st := sim.Stats()
	s := Sample{
		Value: perSecond(sum.Counts.OK, sum.Duration), Devices: sum.Total, OK: sum.Counts.OK, Status: string(sum.Status),
		Seconds: Seconds(sum.Duration.Seconds()), HistoryRows: after.history - before.history,
		Requests: st.Requests, Accepted: st.ByStatus[http.StatusOK], Throttled: st.RateLimited,
		MaxPerSlidingSecond: st.MaxPerSlidingSecond,
		ListingRequests:     st.List, DetailsRequests: st.Details, Confirmed: sum.Listing.Confirmed, Sampled: sum.Listing.Due["sample"],
		Due: sum.Total, Refreshed: sum.Listing.Due["max_age"],
	}
	switch {
	case sum.Status != store.RunSucceeded:
		return s, fmt.Errorf("run ended %s", sum.Status)
	case !all && sum.Counts.Failed > 0:
		return s, fmt.Errorf("%d devices failed", sum.Counts.Failed)
	case all && (sum.Counts.OK != sum.Total || after.ok != sum.Total):
		return s, fmt.Errorf("%d of %d devices ok (%d in the table)", sum.Counts.OK, sum.Total, after.ok)
	case int64(sum.Counts.Changes) != s.HistoryRows:
		return s, fmt.Errorf("run counted %d history rows, table gained %d", sum.Counts.Changes, s.HistoryRows)
	}
	return s, nil
}

// scenarioPacing runs the real sync against a simulator that enforces R with
// 100-300 ms of latency, then one that enforces R/2 while the client is set
// to R. Each phase's fleet is sized to last PacingSeconds at the server's
// rate.
func (b *bencher) scenarioPacing(ctx context.Context) error {
	r, burst := b.cfg.PacingRate, b.cfg.PacingBurst
	phases := []struct {
		fig, label string
		server     float64
	}{
		{FigPacingR, fmt.Sprintf("pacing: server enforces R=%g/s, client R", r), r},
		{FigPacingHalf, fmt.Sprintf("pacing: server enforces R/2=%g/s, client R", r/2), r / 2},
	}
	for run := range b.cfg.Runs {
		for _, ph := range phases {
			n := int(math.Ceil(ph.server * b.cfg.PacingSeconds))
			s, err := b.pacingOnce(ctx, n, ph.server, r, burst)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", ph.label, run+1, err)
			}
			b.res.figure(ph.fig, ph.label, "requests/s accepted").add(s)
			b.logf("pacing run %d server %g/s: %.2f req/s accepted (%.1f%%), %d requests, %d 429s, max %d in 1 s, %d devices in %s",
				run+1, ph.server, s.Value, 100*s.Value/ph.server, s.Requests, s.Throttled, s.MaxPerSlidingSecond, s.OK, s.Seconds)
		}
	}
	return nil
}

// scenarioPacingLong runs the real sync with the client at R against a
// simulator enforcing R/2 for PacingLongSeconds (five minutes by default),
// once: long enough for the governor's memory of the accepted rate, and its
// rare probes, to show against the cost of its first 429s.
func (b *bencher) scenarioPacingLong(ctx context.Context) error {
	r, burst := b.cfg.PacingRate, b.cfg.PacingBurst
	half := r / 2
	label := fmt.Sprintf("pacing, %gs phase: server enforces R/2=%g/s, client R", b.cfg.PacingLongSeconds, half)
	n := int(math.Ceil(half * b.cfg.PacingLongSeconds))
	s, err := b.pacingOnce(ctx, n, half, r, burst)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	b.res.figure(FigPacingLong, label, "requests/s accepted").add(s)
	b.logf("pacing-long server %g/s: %.2f req/s accepted (%.1f%%), %d requests, %d 429s, max %d in 1 s, %d devices in %s",
		half, s.Value, 100*s.Value/half, s.Requests, s.Throttled, s.MaxPerSlidingSecond, s.OK, s.Seconds)
	return nil
}

func (b *bencher) pacingOnce(ctx context.Context, n int, serverRate, clientRate float64, burst int) (Sample, error) {
	f, err := b.newTrackedFleet(ctx, webexsim.Config{
		Devices: n, RateLimit: serverRate, Burst: burst,
		Latency: b.cfg.PacingLatency, Jitter: b.cfg.PacingJitter,
	})
	if err != nil {
		return Sample{}, err
	}
	defer f.close()
	sim, base, db := f.sim, f.base, f.db
	client, err := newClient(base, rate.Limit(clientRate), burst)
	if err != nil {
		return Sample{}, err
	}
	s, err := b.syncOnce(ctx, db, sim, client, b.cfg.PacingConcurrency)
	if err != nil {
		return s, err
	}
	// The achieved rate is what the server accepted over the span it saw
	// requests: (accepted-1) intervals between the first and last arrival.
	st := sim.Stats()
	if span := st.LastRequest.Sub(st.FirstRequest); span > 0 && s.Accepted > 1 {
		s.Value = float64(s.Accepted-1) / span.Seconds()
	}
	return s, nil
}
