package bench

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// The herd scenario's settings: the budgeted run's length at least (its
// client's rate is set so that the budget covers the listing and a tenth
// of the fleet, at most herdMaxRate), and the simulated days' schedule.
const (
	herdMinBudget = 5 * time.Second
	herdMaxRate   = 200 // requests/s
	herdInterval  = time.Hour
	herdDays      = 2
)

// timeTables are the tables whose times a simulated day moves back: what
// a run reads to decide what is due and how long ago the last runs were.
var timeTables = []string{"device_sync_state", "sync_runs", "devices", "listing_trust"}

// scenarioHerd measures what issue 16 asks of the work list, in the
// default (list-guided) mode.
//
// The day after: N devices synced a day ago (every stored time moved back
// 25 hours), then 1% of them change IP or MAC, then one run whose time
// budget covers the listing and about a tenth of the fleet. Every change
// the listing reveals should be recorded in that run, ahead of the
// max-age refreshes the budget cuts. Figure: the share recorded.
//
// Two days of hourly runs: after a first sync, 2×24 runs, an hour apart
// (the stored times move back an hour before each), with a little churn.
// Figure: each run's max-age refreshes against the fleet's average per
// run (N × interval / max age), from the second day on; and the oldest
// details after any run against the max age plus one interval.
func (b *bencher) scenarioHerd(ctx context.Context) error {
	if err := b.herdDayAfter(ctx); err != nil {
		return err
	}
	return b.herdTwoDays(ctx)
}

func (b *bencher) herdDayAfter(ctx context.Context) error {
	n := b.cfg.HerdDevices
	f, _, err := b.herdFleet(ctx, n)
	if err != nil {
		return err
	}
	defer f.close()
	sim, base, db := f.sim, f.base, f.db
	if err := pgadmin.ShiftTimes(ctx, db.pool, 25*time.Hour, timeTables...); err != nil {
		return err
	}
	rep := sim.Churn(webexsim.ChurnSpec{Seed: 16, IPChange: 0.005, MACChange: 0.005})
	revealed := len(rep.IPChanged) + len(rep.MACChanged)

	// A budget of a few seconds at least, so that starting the run is a
	// small part of it.
	pages := (n + 99) / 100
	limit := min(herdMaxRate, float64(pages+n/10)/herdMinBudget.Seconds())
	budget := time.Duration(float64(pages+n/10) / limit * float64(time.Second))
	slow, err := newClient(base, rate.Limit(limit), 1)
	if err != nil {
		return err
	}
	sim.ResetStats()
	before, err := db.counts(ctx)
	if err != nil {
		return err
	}
	sum, err := syncrun.Run(ctx, store.New(db.pool), slow, syncrun.Config{
		Concurrency: b.cfg.Concurrency, BatchSize: b.cfg.BatchSize, Detect: store.DetectListing, MaxDuration: budget,
	})
	if err != nil {
		return fmt.Errorf("herd: the day after: %w", err)
	}
	after, err := db.counts(ctx)
	if err != nil {
		return err
	}
	recorded, err := countRecorded(ctx, db, rep)
	if err != nil {
		return err
	}
	st := sim.Stats()
	fig := b.res.figure(FigHerdRecorded, fmt.Sprintf("the day after a first sync of %d devices: revealed IP/MAC changes recorded by one run with a budget of a tenth of the fleet", n), "% of revealed changes")
	fig.add(Sample{Value: 100 * float64(recorded) / float64(max(revealed, 1)), Devices: n, OK: recorded, Status: string(sum.Status),
		Seconds: Seconds(sum.Duration.Seconds()), HistoryRows: after.history - before.history,
		Requests: st.Requests, ListingRequests: st.List, DetailsRequests: st.Details, Refreshed: sum.Listing.Due["max_age"],
		Revealed: revealed, Due: sum.Total})
	b.logf("herd, the day after: %d of %d revealed changes recorded; budget %s at %.0f requests/s, %d requests (%d listing, %d details); %d due (%d max-age refreshes), %d skipped; %s",
		recorded, revealed, budget.Round(time.Millisecond), limit, st.Requests, st.List, st.Details, sum.Total, sum.Listing.Due["max_age"], sum.Counts.Skipped, sum.Status)
	return nil
}

// herdFleet is a tracked fleet of n devices synced once, list-guided (the
// default mode), by an unlimited client it returns for more runs.
func (b *bencher) herdFleet(ctx context.Context, n int) (*trackedFleet, *fetch.Client, error) {
	f, err := b.newTrackedFleet(ctx, webexsim.Config{Devices: n})
	if err != nil {
		return nil, nil, err
	}
	client, err := newClient(f.base, rate.Inf, 1)
	if err == nil {
		_, err = b.syncWith(ctx, f.db, f.sim, client, syncrun.Config{Concurrency: b.cfg.Concurrency, Detect: store.DetectListing}, true)
	}
	if err != nil {
		f.close()
		return nil, nil, fmt.Errorf("herd: first sync: %w", err)
	}
	return f, client, nil
}

// countRecorded counts the changes of rep that are in the history with
// their old and new values.
func countRecorded(ctx context.Context, db *database, rep webexsim.ChurnReport) (int, error) {
	n := 0
	for _, c := range []struct {
		field string
		fcs   []webexsim.FieldChange
		conv  func(string) string
	}{{"ip", rep.IPChanged, func(s string) string { return s }}, {"mac", rep.MACChanged, colonMAC}} {
		for _, fc := range c.fcs {
			var found bool
			err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM device_changes
				WHERE device_id = $1 AND field = $2 AND old_value IS NOT DISTINCT FROM nullif($3, '') AND new_value IS NOT DISTINCT FROM nullif($4, ''))`,
				fc.ID, c.field, c.conv(fc.Old), c.conv(fc.New)).Scan(&found)
			if err != nil {
				return 0, err
			}
			if found {
				n++
			}
		}
	}
	return n, nil
}

func (b *bencher) herdTwoDays(ctx context.Context) error {
	n := b.cfg.HerdDevices
	f, client, err := b.herdFleet(ctx, n)
	if err != nil {
		return err
	}
	defer f.close()
	sim, db := f.sim, f.db
	cfg := syncrun.Config{Concurrency: b.cfg.Concurrency, Detect: store.DetectListing}
	maxAge := syncrun.DefaultDetailMaxAge
	avg := float64(n) * herdInterval.Seconds() / maxAge.Seconds()
	fig := b.res.figure(FigHerdShare, fmt.Sprintf("max-age refreshes per hourly run against the average N×interval/max age = %.0f, %d devices, from the second day on", avg, n), "× average")
	age := b.res.figure(FigHerdAge, "oldest details after a run, against the max age plus one interval", "× (max age + interval)")
	runs := herdDays * int(maxAge/herdInterval)
	var day1 []int
	for k := 1; k <= runs; k++ {
		if err := pgadmin.ShiftTimes(ctx, db.pool, herdInterval, timeTables...); err != nil {
			return err
		}
		sim.Churn(webexsim.ChurnSpec{Seed: int64(1000 + k), IPChange: 0.001})
		s, err := b.syncWith(ctx, db, sim, client, cfg, false)
		if err != nil {
			return fmt.Errorf("herd: hour %d: %w", k, err)
		}
		var oldest float64
		if err := db.pool.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM now() - min(last_synced_at)), 0)::float8 FROM device_sync_state`).Scan(&oldest); err != nil {
			return err
		}
		age.add(Sample{Value: oldest / (maxAge + herdInterval).Seconds(), Devices: n, Seconds: Seconds(oldest)})
		if k < int(maxAge/herdInterval) {
			day1 = append(day1, s.Refreshed)
			continue
		}
		s.Value = float64(s.Refreshed) / avg
		s.Devices = n
		fig.add(s)
	}
	refreshes := func(f *Figure) []int {
		out := make([]int, len(f.Samples))
		for i, s := range f.Samples {
			out[i] = s.Refreshed
		}
		return out
	}
	b.logf("herd, two days of hourly runs: refreshes per run, day 1 %v; from hour %d %v (average %.0f); oldest details at most %.1f h",
		day1, int(maxAge/herdInterval), refreshes(fig), avg, age.Max*(maxAge+herdInterval).Hours())
	return nil
}

// evaluateHerd checks issue 16's goals for the work list.
func (r *Results) evaluateHerd() {
	if f := r.Figure(FigHerdRecorded); f != nil && len(f.Samples) > 0 {
		s := f.Samples[0]
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("the day after a first sync of %d devices, 1%% changed IP or MAC, one run with a budget of a tenth of the fleet: revealed changes recorded", s.Devices),
			Want: "every one", Measured: fmt.Sprintf("%d of %d (%d due, %d of them max-age refreshes; %d details requests)", s.OK, s.Revealed, s.Due, s.Refreshed, s.DetailsRequests),
			Pass: s.OK == s.Revealed,
		})
	}
	if f := r.Figure(FigHerdShare); f != nil && len(f.Samples) > 0 {
		r.Targets = append(r.Targets, Target{
			Name: "hourly runs from the second day on: max-age refreshes of the worst run against the fleet's average per run",
			Want: "<= 2×", Measured: fmt.Sprintf("%.2f× (best run %.2f×)", f.Max, f.Min), Pass: f.Max <= 2,
		})
	}
	if f := r.Figure(FigHerdAge); f != nil && len(f.Samples) > 0 {
		r.Targets = append(r.Targets, Target{
			Name: "hourly runs over two days: oldest details after any run", Want: "<= max age + one interval",
			Measured: fmt.Sprintf("%.2f× (%.1f h)", f.Max, f.Max*(syncrun.DefaultDetailMaxAge+herdInterval).Hours()), Pass: f.Max <= 1,
		})
	}
}
