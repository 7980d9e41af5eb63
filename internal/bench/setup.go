package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// token is the simulator's bearer token for the benchmark; not a secret.
const token = "wxc-bench-token"

// startSim builds a simulator and serves it on a loopback port.
func startSim(cfg webexsim.Config) (*webexsim.Sim, string, error) {
	cfg.Tokens = []string{token}
	if cfg.Seed == 0 {
		cfg.Seed = 6
	}
	sim, err := webexsim.New(cfg)
	if err != nil {
		return nil, "", err
	}
	base, err := sim.Start("")
	if err != nil {
		sim.Close()
		return nil, "", err
	}
	return sim, base, nil
}

// newClient is the job's client with the given limiter settings.
func newClient(base string, limit rate.Limit, burst int) (*fetch.Client, error) {
	return fetch.NewClient(fetch.Options{
		BaseURL: base,
		Tokens:  fetch.StaticToken(token),
		Limiter: rate.NewLimiter(limit, burst),
	})
}

// database is one fresh, migrated database for one measurement.
type database struct {
	dsn  string
	pool *pgxpool.Pool
	drop func()
}

func (b *bencher) openDB(ctx context.Context) (*database, error) {
	dsn, drop, err := b.env.NewDB(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		drop()
		return nil, err
	}
	return &database{dsn: dsn, pool: pool, drop: drop}, nil
}

func (d *database) close() {
	d.pool.Close()
	d.drop()
}

// track inserts the devices to sync, as an operator would, and analyzes the
// table as autovacuum would soon after: the first run's plans should not
// depend on how quickly autovacuum got there.
func (d *database) track(ctx context.Context, ids []string) error {
	_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"devices"}, []string{"device_id"},
		pgx.CopyFromSlice(len(ids), func(i int) ([]any, error) { return []any{ids[i]}, nil }))
	if err != nil {
		return fmt.Errorf("track devices: %w", err)
	}
	if _, err := d.pool.Exec(ctx, "ANALYZE devices"); err != nil {
		return fmt.Errorf("analyze devices: %w", err)
	}
	return nil
}

type dbCounts struct {
	ok      int
	history int64
}

func (d *database) counts(ctx context.Context) (dbCounts, error) {
	var c dbCounts
	err := d.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM devices WHERE sync_status = 'ok'),
	                                    (SELECT count(*) FROM device_changes)`).Scan(&c.ok, &c.history)
	return c, err
}

// decodedFleet renders every device's details through the simulator's own
// handler, in process, and decodes them with the job's decoder: the store
// scenario then writes exactly what a sync would, with no HTTP in the loop.
func decodedFleet(sim *webexsim.Sim, ids []string) (map[string]device.Device, error) {
	h := sim.Handler()
	out := make(map[string]device.Device, len(ids))
	for _, id := range ids {
		req := httptest.NewRequest(http.MethodGet, "/v1/telephony/config/devices/"+url.PathEscape(id), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("simulator answered %d for %s", rec.Code, id)
		}
		d, err := fetch.DecodeDevice(rec.Body.Bytes(), id)
		if err != nil {
			return nil, err
		}
		out[id] = d
	}
	sim.ResetStats()
	return out, nil
}

// fetchAll fetches every ID with n workers and returns how many succeeded.
func fetchAll(ctx context.Context, client *fetch.Client, ids []string, n int) (int, error) {
	return eachParallel(ctx, ids, n, func(id string) error {
		_, err := client.Device(ctx, id, "")
		return err
	})
}

// eachParallel calls fn for every ID with n workers until ctx ends, and
// returns how many calls succeeded and the first error, naming its ID.
func eachParallel(ctx context.Context, ids []string, n int, fn func(id string) error) (int, error) {
	var (
		ok      atomic.Int64
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				if err := fn(ids[i]); err != nil {
					errOnce.Do(func() { first = fmt.Errorf("device %s: %w", ids[i], err) })
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(ok.Load()), first
}

// rawFetchAll GETs every ID's details with n workers and a plain
// net/http client, reading each body whole and decoding nothing: the
// raw HTTP ceiling, which the job's own client work (decoding, checking)
// does not lower. It returns how many were answered 200.
func rawFetchAll(ctx context.Context, base string, ids []string, n int) (int, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	return eachParallel(ctx, ids, n, func(id string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/telephony/config/devices/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// trackedFleet is a simulator of a fleet served over loopback and a fresh
// database that tracks its devices: what a scenario of list-guided runs
// starts from.
type trackedFleet struct {
	sim  *webexsim.Sim
	base string
	db   *database
}

func (b *bencher) newTrackedFleet(ctx context.Context, cfg webexsim.Config) (*trackedFleet, error) {
	sim, base, err := startSim(cfg)
	if err != nil {
		return nil, err
	}
	db, err := b.openDB(ctx)
	if err != nil {
		sim.Close()
		return nil, err
	}
	if err := db.track(ctx, sim.IDs()); err != nil {
		db.close()
		sim.Close()
		return nil, err
	}
	return &trackedFleet{sim: sim, base: base, db: db}, nil
}

func (f *trackedFleet) close() {
	f.db.close()
	f.sim.Close()
}
