package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// What an hourly run costs PostgreSQL: WAL bytes per device, the share of
// the inventory's updates that were HOT, and the inventory's size, over
// WALRuns unchanged re-syncs. Each re-sync follows a VACUUM (the autovacuum
// that runs between hourly runs) and a CHECKPOINT (so that the first change
// of every page writes its full-page image, as in a real hourly run). The
// scenario runs on a private cluster of its own with full_page_writes on:
// on a shared server, other sessions' WAL would count.

// inventoryTables are the tables whose cost the scenario measures: the
// inventory and, where the schema has it, its per-run sync state.
var inventoryTables = []string{"devices", "device_sync_state"}

// walStats is one snapshot of the inventory's counters.
type walStats struct {
	lsn        string
	updates    int64 // n_tup_upd over the inventory tables
	hotUpdates int64 // n_tup_hot_upd
	bytes      int64 // tables, TOAST and indexes
}

func (b *bencher) scenarioWAL(ctx context.Context) error {
	// localpg turns full_page_writes off for speed; a real server has it on,
	// and full-page images are most of what an update after a checkpoint
	// costs. Autovacuum is replaced by the explicit VACUUM before each run,
	// so that every run starts from the same state.
	cluster, err := localpg.Start(ctx, "full_page_writes=on", "autovacuum=off")
	if err != nil {
		return fmt.Errorf("the wal scenario needs a private cluster (PostgreSQL server binaries on this machine): %w", err)
	}
	defer func() { _ = cluster.Stop() }()
	admin, err := pgxpool.New(ctx, cluster.URL())
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := pgadmin.CreateDatabase(ctx, admin, "wal_bench", ""); err != nil {
		return err
	}
	dsn, err := pgadmin.WithDatabase(cluster.URL(), "wal_bench")
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}
	n := b.cfg.WALDevices
	sim, base, err := startSim(webexsim.Config{Devices: n})
	if err != nil {
		return err
	}
	defer sim.Close()
	db := &database{dsn: dsn, pool: pool, drop: func() {}}
	if err := db.track(ctx, sim.IDs()); err != nil {
		return err
	}

	sync := func(detect store.Detect) (Sample, error) {
		// A pool of its own per run: closing it ends the backends, which
		// flushes their statistics before they are read.
		runPool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return Sample{}, err
		}
		client, err := newClient(base, rate.Inf, 1)
		if err != nil {
			runPool.Close()
			return Sample{}, err
		}
		s, err := b.syncWith(ctx, &database{dsn: dsn, pool: runPool, drop: func() {}}, sim, client,
			syncrun.Config{Concurrency: b.cfg.Concurrency, Detect: detect}, detect == store.DetectNone)
		runPool.Close()
		if err != nil {
			return s, err
		}
		return s, waitBackendsGone(ctx, pool)
	}
	if _, err := sync(store.DetectNone); err != nil {
		return fmt.Errorf("wal: first sync: %w", err)
	}
	first, err := inventoryStats(ctx, pool)
	if err != nil {
		return err
	}
	b.logf("wal    first sync: %d devices, inventory %.1f MiB", n, float64(first.bytes)/(1<<20))
	for _, m := range []struct {
		detect         store.Detect
		wal, hot, size string
		what           string
	}{
		{store.DetectNone, FigWALPerDevice, FigHOTShare, FigInventorySize, "unchanged re-sync, every device's details"},
		{store.DetectListing, FigWALListing, FigHOTListing, FigSizeListing, "unchanged list-guided pass"},
	} {
		if m.detect == store.DetectListing {
			// The first pass that reads the listing fills the inventory's
			// listing columns: a change, not the unchanged pass measured.
			if _, err := sync(m.detect); err != nil {
				return fmt.Errorf("wal: first list-guided pass: %w", err)
			}
		}
		walFig := b.res.figure(m.wal, fmt.Sprintf("WAL per device, %s (%d devices)", m.what, n), "bytes")
		hotFig := b.res.figure(m.hot, "HOT share of the inventory's updates, "+m.what, "%")
		sizeFig := b.res.figure(m.size, "inventory tables and indexes after each "+m.what+", vs after the first sync", "%")
		for run := range b.cfg.WALRuns {
			for _, q := range []string{"VACUUM", "CHECKPOINT"} {
				if _, err := pool.Exec(ctx, q); err != nil {
					return fmt.Errorf("wal: %s: %w", q, err)
				}
			}
			before, err := inventoryStats(ctx, pool)
			if err != nil {
				return err
			}
			s, err := sync(m.detect)
			if err != nil {
				return fmt.Errorf("wal: %s %d: %w", m.what, run+1, err)
			}
			after, err := inventoryStats(ctx, pool)
			if err != nil {
				return err
			}
			var wal int64
			if err := pool.QueryRow(ctx, "SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint", after.lsn, before.lsn).Scan(&wal); err != nil {
				return err
			}
			perDevice := float64(wal) / float64(n)
			upd, hot := after.updates-before.updates, after.hotUpdates-before.hotUpdates
			hotPct := 0.0
			if upd > 0 {
				hotPct = 100 * float64(hot) / float64(upd)
			}
			sizePct := 100 * float64(after.bytes) / float64(first.bytes)
			walFig.add(Sample{Value: perDevice, Devices: n, OK: s.OK, Seconds: s.Seconds, HistoryRows: s.HistoryRows,
				Requests: s.Requests, ListingRequests: s.ListingRequests, DetailsRequests: s.DetailsRequests, Confirmed: s.Confirmed})
			hotFig.add(Sample{Value: hotPct, Devices: n, Updates: upd, HOTUpdates: hot})
			sizeFig.add(Sample{Value: sizePct, Devices: n, Bytes: after.bytes})
			b.logf("wal    %s %d: %.0f WAL bytes/device, HOT %d of %d updates (%.0f%%), inventory %.1f MiB (%.0f%% of first), %d details requests",
				m.what, run+1, perDevice, hot, upd, hotPct, float64(after.bytes)/(1<<20), sizePct, s.DetailsRequests)
		}
	}
	return nil
}

// waitBackendsGone waits until no other session is connected to the
// database: a backend flushes its statistics as it exits, and pool.Close
// returns before the backends have.
func waitBackendsGone(ctx context.Context, pool *pgxpool.Pool) error {
	for range 200 {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil || n == 0 {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("wal: the run's sessions did not end")
}

// inventoryStats reads the WAL position and the inventory tables' counters
// and sizes. pg_stat_clear_snapshot makes the counters current.
func inventoryStats(ctx context.Context, pool *pgxpool.Pool) (walStats, error) {
	var s walStats
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			SELECT pg_current_wal_insert_lsn()::text,
			       coalesce(sum(s.n_tup_upd), 0)::bigint,
			       coalesce(sum(s.n_tup_hot_upd), 0)::bigint,
			       coalesce(sum(pg_total_relation_size(s.relid)), 0)::bigint
			FROM pg_stat_user_tables s
			WHERE s.schemaname = current_schema() AND s.relname = ANY ($1)`, inventoryTables).
			Scan(&s.lsn, &s.updates, &s.hotUpdates, &s.bytes)
	})
	if err != nil {
		return walStats{}, fmt.Errorf("wal: read statistics: %w", err)
	}
	return s, nil
}

// evaluateWAL checks the goals for an unchanged re-sync: at most
// 400 WAL bytes a device, at least 80% of the updates HOT, and the
// inventory at most 150% of its size after the first sync, flat from run to
// run (the last run no more than 5 points above the middle one).
func (r *Results) evaluateWAL() {
	for _, m := range []struct{ wal, hot, size, what string }{
		{FigWALPerDevice, FigHOTShare, FigInventorySize, "unchanged re-sync (every device's details)"},
		{FigWALListing, FigHOTListing, FigSizeListing, "unchanged list-guided pass"},
	} {
		wal, hot, size := r.Figure(m.wal), r.Figure(m.hot), r.Figure(m.size)
		if wal == nil || len(wal.Samples) == 0 {
			continue
		}
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("WAL per device, %s after VACUUM and CHECKPOINT (%d devices, %d runs)", m.what, wal.Samples[0].Devices, len(wal.Samples)),
			Want: "<= 400 bytes", Measured: fmt.Sprintf("median %.0f, max %.0f bytes", wal.Median, wal.Max),
			Pass: wal.Max <= 400,
		})
		if hot != nil && len(hot.Samples) > 0 {
			r.Targets = append(r.Targets, Target{
				Name: "HOT share of the inventory's updates, " + m.what, Want: ">= 80%",
				Measured: fmt.Sprintf("median %.0f%%, min %.0f%%", hot.Median, hot.Min),
				Pass:     hot.Min >= 80,
			})
		}
		if size != nil && len(size.Samples) > 0 {
			s := size.Samples
			last, mid := s[len(s)-1].Value, s[len(s)/2].Value
			r.Targets = append(r.Targets, Target{
				Name: fmt.Sprintf("inventory tables and indexes after %d runs (%s), vs after the first sync", len(s), m.what),
				Want: "<= 150%, flat", Measured: fmt.Sprintf("%.0f%% after the last (%.0f%% after run %d)", last, mid, len(s)/2+1),
				Pass: last <= 150 && last-mid <= 5,
			})
		}
	}
}
