package syncrun_test

import (
	"context"
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// Issue 17: a run starts from the rate the scope's last run ended with,
// stored with the run, instead of learning Webex's limit anew. Over real
// HTTP and PostgreSQL: a first run with the client at 5x a simulator's 20/s
// ends throttled under 20/s and stores it; the next run, with a new client
// (a new process), starts there, with a burst of one, so that the server
// never sees its configured 100/s; a shard, another scope, does not; a
// run against a server that never throttles stores nothing, and the next
// starts at the configured rate.
func TestRunStartsFromTheRateTheLastRunEndedWith(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 100, clientRate: 100, clientBurst: 5,
		simCfg: func(c *webexsim.Config) { c.RateLimit, c.Burst, c.Latency = 20, 5, 5*time.Millisecond }})
	ctx := context.Background()
	stored := func(runID int64) *float64 {
		var r *float64
		if err := e.pool.QueryRow(ctx, `SELECT ended_rate FROM sync_runs WHERE run_id = $1`, runID).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	newClient := func(ceiling float64) *fetch.Client {
		c, err := fetch.NewClient(fetch.Options{BaseURL: e.srv.URL + "/v1", Tokens: fetch.StaticToken(token),
			Limiter: rate.NewLimiter(rate.Limit(ceiling), 5), BackoffBase: 10 * time.Millisecond, Logger: e.log})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	first := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone})
	if first.Status != store.RunSucceeded || first.Throttled == 0 {
		t.Fatalf("first run: %s with %d 429s; want it to succeed, throttled", first.Status, first.Throttled)
	}
	if first.StartRate != 0 || !(first.EndedRate > 0 && first.EndedRate < 20*1.1) {
		t.Fatalf("first run: started at %v, ended at %v; want the configured rate, then about 20/s or less", first.StartRate, first.EndedRate)
	}
	if r := stored(first.RunID); r == nil || *r != first.EndedRate {
		t.Fatalf("sync_runs.ended_rate of the first run = %v, want %v", r, first.EndedRate)
	}

	e.client = newClient(100)
	e.sim.ResetStats()
	second := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone})
	if second.StartRate != first.EndedRate {
		t.Fatalf("second run started at %v, want the first's end, %v", second.StartRate, first.EndedRate)
	}
	// It starts at the stored rate with a burst of one and probes up by a
	// few percent: no second sees the configured 100.
	if got, limit := e.sim.Stats().MaxPerSlidingSecond, int64(math.Ceil(first.EndedRate*1.1))+1; got > limit {
		t.Errorf("the server saw %d requests in one second of the second run; from %.2f/s, want at most %d", got, first.EndedRate, limit)
	}
	if second.Throttled >= first.Throttled {
		t.Errorf("the second run had %d 429s, the first %d: starting from the stored rate should cost fewer", second.Throttled, first.Throttled)
	}

	// A shard is another scope: it starts at the configured rate.
	e.client = newClient(100)
	shard := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone, Scope: store.Scope{Index: 0, Count: 2}})
	if shard.StartRate != 0 {
		t.Errorf("a shard started at %v, the whole fleet's rate; want the configured rate", shard.StartRate)
	}

	// Configured under the stored rate (half the second run's), against a
	// server that no longer throttles, the run paces at the configured
	// rate and stores nothing; the next starts at the configured rate.
	if err := e.sim.SetRateLimit(0, 0); err != nil {
		t.Fatal(err)
	}
	if second.EndedRate <= 0 {
		t.Fatalf("the second run, started from a stored rate, ended with none stored")
	}
	e.client = newClient(second.EndedRate / 2)
	calm := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone})
	if calm.StartRate != 0 || calm.EndedRate != 0 || stored(calm.RunID) != nil {
		t.Errorf("a run configured at %.2f/s, under the stored rate: started at %v, ended at %v, stored %v; want the configured rate and NULL",
			second.EndedRate/2, calm.StartRate, calm.EndedRate, stored(calm.RunID))
	}
	e.client = newClient(100)
	after := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone})
	if after.StartRate != 0 {
		t.Errorf("after a run that was never throttled, the next started at %v; want the configured rate", after.StartRate)
	}
}
