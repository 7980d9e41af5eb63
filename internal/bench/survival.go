package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// What a run survives of its database (issue 18), and what it costs: a
// first sync of SurvivalDevices at SurvivalRate requests/s (long enough for
// the faults to land mid-run), opened as the job opens its database
// (store.Open), once with every session of the job ended every 0.5 s on
// the server of the other scenarios, once with a private cluster restarted
// (pg_ctl restart -m fast) a third of the way in. Each is compared with a
// run without the fault on the same server, in the same scenario: the
// seconds lost are the difference of their durations.

// killEvery is how often the kill scenario ends the job's sessions.
const killEvery = 500 * time.Millisecond

func (b *bencher) scenarioSurvival(ctx context.Context) error {
	n := b.cfg.SurvivalDevices
	sim, base, err := startSim(webexsim.Config{Devices: n})
	if err != nil {
		return err
	}
	defer sim.Close()

	// Sessions ended every 0.5 s.
	baseline, err := b.survivalRun(ctx, sim, base, b.openDB, nil)
	if err != nil {
		return fmt.Errorf("survival: run without faults: %w", err)
	}
	var killed atomic.Int64
	s, err := b.survivalRun(ctx, sim, base, b.openDB, func(ctx context.Context, db *database, _ func() int) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(killEvery):
			}
			var k int64
			if err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, store.DefaultApplicationName).Scan(&k); err == nil {
				killed.Add(k)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("survival: run with sessions ended every %s: %w", killEvery, err)
	}
	s.Value = float64(killed.Load())
	b.res.figure(FigSurvivalKills, fmt.Sprintf("sessions of a run ended every %s, run finished", killEvery), "sessions ended").add(s)
	lost := s
	lost.Value = float64(s.Seconds - baseline.Seconds)
	b.res.figure(FigSurvivalKillCost, fmt.Sprintf("seconds lost to sessions ended every %s", killEvery), "seconds").add(lost)
	b.logf("survival: %d sessions ended during a run of %d devices: %s, %d ok in %s (without: %s)",
		killed.Load(), n, s.Status, s.OK, s.Seconds, baseline.Seconds)

	// A restart of a private cluster.
	cluster, err := localpg.Start(ctx)
	if err != nil {
		return fmt.Errorf("the survival scenario restarts a private cluster (PostgreSQL server binaries on this machine): %w", err)
	}
	defer func() { _ = cluster.Stop() }()
	admin, err := pgxpool.New(ctx, cluster.URL())
	if err != nil {
		return err
	}
	defer admin.Close()
	seq := 0
	privateDB := func(ctx context.Context) (*database, error) {
		seq++
		name := fmt.Sprintf("survival_%d", seq)
		if err := pgadmin.CreateDatabase(ctx, admin, name, ""); err != nil {
			return nil, err
		}
		dsn, err := pgadmin.WithDatabase(cluster.URL(), name)
		if err != nil {
			return nil, err
		}
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, err
		}
		if err := migrations.Up(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
		return &database{dsn: dsn, pool: pool, drop: func() {}}, nil
	}
	baseline, err = b.survivalRun(ctx, sim, base, privateDB, nil)
	if err != nil {
		return fmt.Errorf("survival: run without a restart: %w", err)
	}
	var restart, pause time.Duration
	s, err = b.survivalRun(ctx, sim, base, privateDB, func(ctx context.Context, db *database, stored func() int) {
		for stored() < n/3 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		before := stored()
		start := time.Now()
		if err := cluster.Restart(ctx); err != nil {
			b.logf("survival: restart: %v", err)
		}
		restart = time.Since(start)
		// The writes' pause: from the restart until the run stores again.
		for stored() <= before {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		pause = time.Since(start)
	})
	if err != nil {
		return fmt.Errorf("survival: run with a restart: %w", err)
	}
	if restart == 0 {
		return errors.New("survival: the run ended before the restart")
	}
	s.Value = float64(s.Seconds - baseline.Seconds)
	b.res.figure(FigSurvivalRestartCost, "seconds lost to a restart (pg_ctl restart -m fast) mid-run", "seconds").add(s)
	p := s
	p.Value = pause.Seconds()
	b.res.figure(FigSurvivalRestartPause, "writes paused by a restart (from pg_ctl restart until the run stores again)", "seconds").add(p)
	b.logf("survival: restart mid-run (pg_ctl took %.1fs, writes paused %.1fs): %s, %d ok in %s (without: %s)",
		restart.Seconds(), pause.Seconds(), s.Status, s.OK, s.Seconds, baseline.Seconds)
	return nil
}

// survivalRun is one first sync of the simulator's fleet into a fresh
// database from open, with fault running beside it (nil: none) until the
// run ends; fault may ask how many devices are stored. The run must
// succeed and store every device once.
func (b *bencher) survivalRun(ctx context.Context, sim *webexsim.Sim, base string, open func(context.Context) (*database, error),
	fault func(ctx context.Context, db *database, stored func() int)) (Sample, error) {
	db, err := open(ctx)
	if err != nil {
		return Sample{}, err
	}
	defer db.close()
	ids := sim.IDs()
	if err := db.track(ctx, ids); err != nil {
		return Sample{}, err
	}
	st, err := store.Open(ctx, db.dsn, store.OpenOptions{})
	if err != nil {
		return Sample{}, err
	}
	defer st.Close()
	client, err := newClient(base, rate.Limit(b.cfg.SurvivalRate), 20)
	if err != nil {
		return Sample{}, err
	}
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if fault != nil {
		stored := func() int {
			var k int
			_ = db.pool.QueryRow(fctx, `SELECT count(*) FROM device_sync_state`).Scan(&k)
			return k
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fault(fctx, db, stored)
		}()
	}
	sum, err := syncrun.Run(ctx, st, client, syncrun.Config{Concurrency: b.cfg.Concurrency, BatchSize: 100, Detect: store.DetectNone})
	stop()
	wg.Wait()
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Devices: len(ids), OK: sum.Counts.OK, Status: string(sum.Status), Seconds: Seconds(sum.Duration.Seconds()),
		HistoryRows: int64(sum.Counts.Changes)}
	if sum.Err != nil {
		return s, fmt.Errorf("run %s: %w", sum.Status, sum.Err)
	}
	if err := storedOnce(ctx, db.pool, len(ids)); err != nil {
		return s, err
	}
	return s, nil
}

// storedOnce checks that every device is stored, once: all ok, and no
// field with two history rows (a first sync writes one per field that has
// a value; a batch stored twice adds none).
func storedOnce(ctx context.Context, pool *pgxpool.Pool, n int) error {
	var ok, twice int
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM devices WHERE sync_status = 'ok'),
		(SELECT count(*) FROM (SELECT device_id, field FROM device_changes GROUP BY 1, 2 HAVING count(*) > 1) d)`).Scan(&ok, &twice)
	switch {
	case err != nil:
		return err
	case ok != n || twice != 0:
		return fmt.Errorf("%d of %d devices ok, %d fields with two history rows", ok, n, twice)
	}
	return nil
}

// evaluateSurvival checks issue 18's goals: a run survives its sessions
// ended every 0.5 s and a restart of the server, losing seconds, not the
// run.
func (r *Results) evaluateSurvival() {
	if f := r.Figure(FigSurvivalKills); f != nil && len(f.Samples) > 0 {
		var lost float64
		if c := r.Figure(FigSurvivalKillCost); c != nil && len(c.Samples) > 0 {
			lost = c.Max
		}
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("a first sync of %d devices with its sessions ended every %s", f.Samples[0].Devices, killEvery),
			Want: "finishes, every device stored once",
			Measured: fmt.Sprintf("%.0f sessions ended; %s, %d of %d ok, %.1f s lost", f.Min, f.Samples[0].Status,
				f.Samples[0].OK, f.Samples[0].Devices, lost),
			Pass: f.Samples[0].Status == string(store.RunSucceeded) && f.Samples[0].OK == f.Samples[0].Devices && f.Min > 0,
		})
	}
	if f := r.Figure(FigSurvivalRestartCost); f != nil && len(f.Samples) > 0 {
		s := f.Samples[0]
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("a first sync of %d devices with the server restarted (pg_ctl restart -m fast) mid-run", s.Devices),
			Want: "seconds lost, not the run", Measured: fmt.Sprintf("%s, %d of %d ok, %.1f s lost (writes paused %.1f s)", s.Status, s.OK, s.Devices, f.Max, pauseOf(r)),
			Pass: s.Status == string(store.RunSucceeded) && s.OK == s.Devices && f.Max < 30,
		})
	}
}

// pauseOf is the longest pause of the writes that a restart caused.
func pauseOf(r *Results) float64 {
	if f := r.Figure(FigSurvivalRestartPause); f != nil && len(f.Samples) > 0 {
		return f.Max
	}
	return 0
}
