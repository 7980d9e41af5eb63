package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// Issue 17: with Retry-After "0" the fallback pause doubled for every 429
// already in flight (1.1, 3.3, 5.1 and 13.2 s within 2 ms) until the run
// gave up. Over real HTTP, against a strict simulator that says "0", with
// 30 ms of network each way so that requests are in flight when a 429
// comes back, and many workers: every pause is decided once (one warning
// each, however many 429s came back during it), no decision is taken while
// the pause before is in force, a pause at most doubles the one before,
// and every device is fetched.
func TestFallbackPauseGrowsOncePerBurstOverHTTP(t *testing.T) {
	t.Parallel()
	sim, err := webexsim.New(webexsim.Config{Devices: 40, RateLimit: 20, Burst: 1, RetryAfterForm: webexsim.RetryAfterZero,
		Latency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	c, err := NewClient(Options{
		BaseURL: base, Tokens: StaticToken(webexsim.DefaultToken),
		HTTPClient:  &http.Client{Transport: slowNetwork{30 * time.Millisecond}},
		Limiter:     rate.NewLimiter(200, 20), // ten times the server's rate, and a burst
		BackoffBase: 10 * time.Millisecond,    // a fallback pause of 40 ms, jittered to [20, 40)
		Logger:      slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &logs}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// As a run whose last run ended at the configured rate, never refused:
	// no slow start (governor.admit), so that the configured burst puts
	// many requests in flight when the first 429 comes back, as here.
	c.Resume(200)
	ids := sim.IDs()
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(ids); i += 16 {
				if _, err := c.Device(context.Background(), ids[i], ""); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("device not fetched: %v", err)
	}

	type decision struct {
		at    time.Time
		pause time.Duration
	}
	var decisions []decision
	mu.Lock()
	for line := range strings.Lines(logs.String()) {
		var m struct {
			Time  time.Time `json:"time"`
			Level string    `json:"level"`
			Pause float64   `json:"pause_seconds"`
			Retry string    `json:"retry_after"`
		}
		if json.Unmarshal([]byte(line), &m) != nil || m.Level != "WARN" {
			continue
		}
		if m.Retry != "0" {
			t.Errorf("a warning with retry_after %q, want \"0\"", m.Retry)
		}
		decisions = append(decisions, decision{m.Time, time.Duration(m.Pause * float64(time.Second))})
	}
	mu.Unlock()
	throttled := c.Stats().Throttled
	t.Logf("%d 429s, %d decisions", throttled, len(decisions))
	if len(decisions) == 0 || int64(len(decisions)) >= throttled {
		t.Fatalf("%d decisions for %d 429s: want one a pause, and pauses of more than one 429", len(decisions), throttled)
	}
	for i := 1; i < len(decisions); i++ {
		prev, d := decisions[i-1], decisions[i]
		// A new pause needs a request sent after the last one ended.
		if d.at.Before(prev.at.Add(prev.pause)) {
			t.Errorf("decision %d came %v after the one before, within its pause of %v", i+1, d.at.Sub(prev.at), prev.pause)
		}
		// The pause at most doubles from one to the next (the
		// jitter takes up to half of it away, so the bound is 4x).
		if d.pause > 4*prev.pause+time.Millisecond {
			t.Errorf("pause %d is %v after %v: it grew more than once", i+1, d.pause, prev.pause)
		}
	}
}

// slowNetwork adds d to every round trip, as a network would: a 429 takes
// as long to come back as any other answer.
type slowNetwork struct{ d time.Duration }

func (s slowNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	time.Sleep(s.d)
	return resp, err
}
