package syncrun_test

import (
	"bytes"
	"context"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const token = "e2e-secret-token-0123456789"

// env is one end-to-end setup: a simulated Webex over real HTTP, a fresh
// migrated database tracking the simulator's devices, and a client.
type env struct {
	sim    *webexsim.Sim
	srv    *httptest.Server
	pool   *pgxpool.Pool
	admin  *pgx.Conn // outside the pool, for what a test does behind the job's back
	dbName string
	st     *store.Store
	client *fetch.Client
	logs   *syncBuffer
	log    *slog.Logger
}

type envOpts struct {
	devices     int
	simCfg      func(*webexsim.Config)
	clientOpts  func(*fetch.Options)
	middleware  func(http.Handler) http.Handler
	clientRate  float64
	clientBurst int
	tls         bool // serve over https with httptest's own CA, which the client does not trust
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	cfg := webexsim.Config{Devices: o.devices, Seed: 42, Tokens: []string{token}}
	if o.simCfg != nil {
		o.simCfg(&cfg)
	}
	sim, err := webexsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	h := sim.Handler()
	if o.middleware != nil {
		h = o.middleware(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // refused handshakes
	if o.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)

	url := pgtest.DBURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	trackAll(t, pool, sim.IDs())

	e := &env{sim: sim, srv: srv, pool: pool, admin: admin, dbName: admin.Config().Database, st: store.New(pool), logs: &syncBuffer{}}
	e.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.clientRate == 0 {
		o.clientRate, o.clientBurst = 2000, 50
	}
	opts := fetch.Options{
		BaseURL:        srv.URL + "/v1",
		Tokens:         fetch.StaticToken(token),
		Limiter:        rate.NewLimiter(rate.Limit(o.clientRate), o.clientBurst),
		MaxAttempts:    4,
		RequestTimeout: 2 * time.Second,
		BackoffBase:    10 * time.Millisecond,
		BackoffMax:     100 * time.Millisecond,
		Logger:         e.log,
	}
	if o.clientOpts != nil {
		o.clientOpts(&opts)
	}
	e.client, err = fetch.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func trackAll(t *testing.T, pool *pgxpool.Pool, ids []string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO devices (device_id) SELECT unnest($1::text[])`, ids)
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) run(t *testing.T, ctx context.Context, cfg syncrun.Config) syncrun.Summary {
	t.Helper()
	cfg.Logger = e.log
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 50 * time.Millisecond
	}
	sum, err := syncrun.Run(ctx, e.st, e.client, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// No line of any log, no stored value, may carry the token.
	if strings.Contains(e.logs.String(), token) {
		t.Errorf("the token appears in the logs")
	}
	var leaks int
	// The run's ctx may be cancelled (the test stopped it): look anyway.
	err = e.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM devices d WHERE d::text LIKE '%' || $1 || '%')
		     + (SELECT count(*) FROM sync_runs r WHERE r::text LIKE '%' || $1 || '%')
		     + (SELECT count(*) FROM device_changes c WHERE c::text LIKE '%' || $1 || '%')`, token).Scan(&leaks)
	if err != nil {
		t.Fatalf("look for the token in the database: %v", err)
	}
	if leaks > 0 {
		t.Errorf("the token appears in %d database rows", leaks)
	}
	return sum
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
