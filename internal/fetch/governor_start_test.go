package fetch

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Before its first 429, with no starting rate, the governor starts slowly
// (see admit): one request in flight until the server answered, one more
// for every request it took, each 1/ceiling after the last (a burst of
// one), until a 429 or a window of slowStartEnd; then the configured
// burst. A request that ended without an answer frees its place.
func TestGovernorStartsSlowly(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(250, 5)
	g := newGovernorAt(lim, 0, govT0)
	if lim.Burst() != 1 {
		t.Fatalf("the slow start's burst is %d, want 1", lim.Burst())
	}
	m1, _ := g.admit(ms(0))
	if _, wait := g.admit(ms(0)); wait <= 0 {
		t.Fatal("a second request left before the server answered the first")
	}
	if _, wait := g.admit(ms(19)); wait <= 0 {
		t.Fatal("a second request left 19 ms on, the first still unanswered")
	}
	g.accepted(ms(20), m1)
	// A window of two: the next leaves at once, the one after it
	// (1-0.005)/250 s = 3.98 ms later, and a third waits for an answer.
	_, wait := g.admit(ms(20))
	if wait != 0 {
		t.Fatalf("after the first answer the next request waits %v, want none", wait)
	}
	if _, wait := g.admit(ms(20)); wait != 3980*time.Microsecond {
		t.Errorf("a request right after it waits %v, want 3.98ms (1/ceiling less the spacing's slack)", wait)
	}
	m3, wait := g.admit(ms(24))
	if wait != 0 {
		t.Fatalf("the second of a window of two waits %v, want none", wait)
	}
	if _, wait := g.admit(ms(30)); wait <= 0 {
		t.Fatal("a third request left with a window of two, both in flight")
	}
	// The second ended without an answer (a lost connection): its place
	// is free.
	g.unanswered()
	m4, wait := g.admit(ms(30))
	if wait != 0 {
		t.Fatalf("after a request ended unanswered, the next waits %v, want none", wait)
	}
	g.accepted(ms(44), m3)
	g.accepted(ms(50), m4)
	// Window 4, none in flight: four leave 4 ms apart, the fifth waits.
	at := 50
	var inflight []sendMark
	for i := range 4 {
		m, wait := g.admit(ms(at))
		if wait != 0 {
			t.Fatalf("request %d of a window of four waits %v", i+1, wait)
		}
		inflight = append(inflight, m)
		at += 4
	}
	if _, wait := g.admit(ms(at)); wait <= 0 {
		t.Fatal("a fifth request left with a window of four, all in flight")
	}
	// Every request taken widens the window by one; at slowStartEnd the
	// slow start ends: the configured burst, no window.
	for _, m := range inflight {
		g.accepted(ms(at), m)
	}
	for g.window < slowStartEnd-1 {
		at += 4
		m, wait := g.admit(ms(at))
		if wait != 0 {
			t.Fatalf("at a window of %d with none in flight a request waits %v", g.window, wait)
		}
		g.accepted(ms(at+1), m)
	}
	if lim.Burst() != 1 {
		t.Fatalf("at a window of %d the burst is %d, want still 1", g.window, lim.Burst())
	}
	at += 4
	m, _ := g.admit(ms(at))
	g.accepted(ms(at+1), m)
	if g.starting || lim.Burst() != 5 {
		t.Fatalf("at a window of %d: slow start %v, burst %d; want over, 5", g.window, g.starting, lim.Burst())
	}
	for range 8 {
		if _, wait := g.admit(ms(at + 2)); wait != 0 {
			t.Fatalf("after the slow start a request at once waits %v, want none", wait)
		}
	}

	// A 429 ends the slow start: the governor governs.
	lim2 := rate.NewLimiter(250, 5)
	g2 := newGovernorAt(lim2, 0, govT0)
	a, _ := g2.admit(ms(0))
	g2.accepted(ms(20), a)
	b, _ := g2.admit(ms(20))
	g2.refused(ms(21), b, false)
	g2.paused(ms(1021))
	if g2.starting || !g2.governing || lim2.Burst() != 1 {
		t.Errorf("after a 429: slow start %v, governing %v, burst %d; want over, governing, 1", g2.starting, g2.governing, lim2.Burst())
	}
	// A starting rate skips it, and so does one at the ceiling (the
	// previous run was never refused); no limit at all has none.
	for _, start := range []rate.Limit{20, 250} {
		lim3 := rate.NewLimiter(250, 5)
		g3 := newGovernorAt(lim3, start, govT0)
		g3.admit(ms(0))
		if _, wait := g3.admit(ms(100)); g3.starting || wait != 0 {
			t.Errorf("starting rate %v: slow start %v, a second request 100 ms on waits %v; want over and none", start, g3.starting, wait)
		}
	}
	g4 := newGovernorAt(rate.NewLimiter(rate.Inf, 0), 0, govT0)
	g4.admit(ms(0))
	if _, wait := g4.admit(ms(0)); g4.starting || wait != 0 {
		t.Errorf("no limit: slow start %v, a second request waits %v; want none", g4.starting, wait)
	}
}

// Against a strict server (a bucket of one) with the client at 10x its
// limit, the slow start holds the first 429s to the second round trip:
// the first request is taken, the second, sent when its answer is back,
// refused, and its 429 is back before a third leaves; and the fit of
// that refusal reads the round trip (20 ms of latency) between the two,
// so the first cut is to a quarter of about 50/s, not of the client's
// rate. On the simulated clock, five seeds, the client's bucket full at
// the start: at most two 429s in the first 100 ms (one on each; the
// governor before the slow start took three on two seeds of five, its
// first requests leaving as a burst, and the simulated 429s come back in
// a fifth of a millisecond: on this machine the pacing matrix's first
// 429 came back 8 ms after the first request, with five to seven sent),
// and the rate after the first 429 at most 13.5/s (before: a quarter of
// the client's rate, 25/s at 10/s and 62.5/s at 25/s).
func TestGovernorSlowStartAgainstAStrictServer(t *testing.T) {
	t.Parallel()
	for _, L := range []float64{2, 10, 25} {
		for seed := uint64(1); seed <= 5; seed++ {
			p := pacingRun{clientRate: 10 * L, clientBurst: 5, seed: seed}
			srv := &pacingServer{limit: func(time.Duration) float64 { return L }, bucket: 1}
			r := p.run(srv, 100*time.Millisecond)
			first := r.count(r.refused, 0, 100*time.Millisecond)
			after := float64(r.g.limit())
			t.Logf("%g/s, seed %d: %d 429s in the first 100 ms, then %.2f/s", L, seed, first, after)
			if first > 2 {
				t.Errorf("%g/s, seed %d: %d 429s in the first 100 ms, want at most 2", L, seed, first)
			}
			if first > 0 && after > 13.5 {
				t.Errorf("%g/s, seed %d: %.2f/s after the first 429, want at most 13.5 (a quarter of a round trip's rate)", L, seed, after)
			}
		}
	}
}

// Over real HTTP: a request of the slow start that ends without an answer
// (the server drops the connection) frees its place in the window, or
// the client, with one request in flight allowed and that one never
// answered, would wait for good. Two connections dropped, then every
// request answered: all sixteen devices come back within 5 s.
func TestSlowStartGoesOnAfterARequestWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		writeDevice(w, r)
	})
	c := newTestClient(t, f.URL, func(o *Options) { o.Limiter = rate.NewLimiter(100, 5) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2 {
				if _, err := c.Device(ctx, fmt.Sprintf("D%d-%d", i, j), ""); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("device: %v", err)
	}
	if r, governed := c.gov.pace(); governed || r != 100 {
		t.Errorf("pace %v, governed %v; want 100 and not governed (no 429 came)", r, governed)
	}
}
