package fetch

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var govT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func near(got rate.Limit, want float64) bool { return math.Abs(float64(got)-want) < 0.01 }

// ms is t0 plus n milliseconds.
func ms(n int) time.Time { return govT0.Add(time.Duration(n) * time.Millisecond) }

// One burst of 429s is one decision: the 429s of requests sent in the same
// spell as the first, or during the pause, change nothing. The first
// request after the pause refused again lengthens the pause, not the cut;
// a 429 once a request sent after the burst began was accepted is a new
// burst.
func TestGovernorDecidesOncePerBurst(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 0, govT0)
	var marks []sendMark
	for i := range 9 {
		m, wait := g.admit(ms(20 * i))
		if wait != 0 {
			t.Fatalf("request %d waited %v before any 429", i+1, wait)
		}
		marks = append(marks, m)
	}
	// The server refused the run's first request and the eight after it.
	// The record says nothing of its rate: a blind cut to a quarter.
	if v := g.refused(ms(200), marks[0], false); !v.pause || !v.burst || v.lo != 0 || v.hi != 0 {
		t.Fatalf("first 429: %+v, want a new burst that measured nothing", v)
	}
	if got := lim.Limit(); !near(got, 12.5) {
		t.Fatalf("after the first 429 the rate is %.2f, want 12.50 (a quarter of 50)", float64(got))
	}
	g.paused(ms(1200))
	for i, m := range marks[1:] {
		if v := g.refused(ms(201+i), m, false); v.pause || v.burst {
			t.Errorf("the 429 of request %d, sent before the first came back, began a burst", i+2)
		}
	}
	// A request sent during the pause belongs to no spell either.
	m, _ := g.admit(ms(1000))
	if v := g.refused(ms(1010), m, false); v.pause || v.burst {
		t.Error("a 429 for a request sent during the pause began a pause or a burst")
	}
	if got := lim.Limit(); !near(got, 12.5) {
		t.Errorf("the rest of the burst moved the rate to %.2f", float64(got))
	}
	// After the pause, the first request refused at once: a new pause
	// (the last was too short) in the same burst, the rate left alone.
	m0, _ := g.admit(ms(1250))
	if v := g.refused(ms(1251), m0, false); !v.pause || v.burst {
		t.Errorf("the first request after the pause refused: %+v, want a new pause in the same burst", v)
	}
	g.paused(ms(1290))
	if got := lim.Limit(); !near(got, 12.5) {
		t.Errorf("a refusal within the burst moved the rate to %.2f", float64(got))
	}
	// Then one accepted, the next refused: a new burst. (At 12.5/s,
	// requests leave 79.6 ms apart at the least.)
	m1, wait1 := g.admit(ms(1340))
	g.accepted(ms(1360), m1)
	m2, wait2 := g.admit(ms(1440))
	if wait1 != 0 || wait2 != 0 {
		t.Fatalf("requests 90 and 100 ms apart waited %v, %v", wait1, wait2)
	}
	if v := g.refused(ms(1441), m2, true); !v.pause || !v.burst {
		t.Errorf("a 429 after the pause, once a request was accepted: %+v, want a new burst", v)
	}
	// After a pause the client guessed (Retry-After 0), the second request
	// of the spell refused while the first's answer is not back: nothing
	// says the first was taken, so the same burst.
	g.paused(ms(2400))
	m3, _ := g.admit(ms(2500))
	m4, _ := g.admit(ms(3500))
	cut := lim.Limit()
	if v := g.refused(ms(3501), m4, true); !v.pause || v.burst || m3.n != 1 || m4.n != 2 {
		t.Errorf("the second request after a guessed pause refused, the first unanswered: %+v (n %d, %d); want a pause in the same burst", v, m3.n, m4.n)
	}
	if lim.Limit() != cut {
		t.Errorf("the rate moved from %.2f to %.2f within the burst", float64(cut), float64(lim.Limit()))
	}
}

// A blind cut climbs back towards the rate refused, a step for every
// request accepted at the rate in force, each closing 15% of the gap: after
// a quiet second, 12.5 -> 18.05 -> 22.77 -> 26.78 on the way to 49.5.
func TestGovernorClimbsAfterABlindCut(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 0, govT0)
	m, _ := g.admit(govT0)
	g.refused(ms(10), m, false)
	g.paused(ms(1010))
	// Within the quiet second after the pause, nothing moves.
	m, _ = g.admit(ms(1100))
	g.accepted(ms(1120), m)
	if got := lim.Limit(); !near(got, 12.5) {
		t.Fatalf("the rate moved to %.2f within a second of the pause", float64(got))
	}
	at := 2100
	for i, want := range []float64{18.05, 22.77, 26.78} {
		m, _ := g.admit(ms(at))
		g.accepted(ms(at+20), m)
		if got := lim.Limit(); !near(got, want) {
			t.Fatalf("step %d: rate %.2f, want %.2f", i+1, float64(got), want)
		}
		// An answer to a request sent at an older, lower rate says
		// nothing of the rate in force: no step.
		old := m
		old.rate = 12.5
		g.accepted(ms(at+30), old)
		if got := lim.Limit(); !near(got, want) {
			t.Fatalf("step %d: an answer to a request sent at 12.5/s moved the rate to %.2f", i+1, float64(got))
		}
		at += 100
	}
}

// From the first 429 on, the client's own burst is one request and its
// requests are spaced; the configured burst returns with the ceiling.
func TestGovernorBurstAndSpacing(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 0, govT0)
	m, wait := g.admit(govT0)
	if _, w := g.admit(govT0); w != 0 || wait != 0 || lim.Burst() != 5 {
		t.Fatalf("before any 429: waits %v %v, burst %d; want none and 5", wait, w, lim.Burst())
	}
	g.refused(ms(5), m, false)
	g.paused(ms(1005))
	if lim.Burst() != 1 {
		t.Fatalf("after a 429 the burst is %d, want 1", lim.Burst())
	}
	g.admit(ms(1010))
	// At 12.5/s, the next may leave (1-0.005)/12.5 s = 79.6 ms after.
	if _, w := g.admit(ms(1010)); w != 79600*time.Microsecond {
		t.Errorf("a second request at once waits %v, want 79.6ms", w)
	}
	if _, w := g.admit(ms(1090)); w != 0 {
		t.Errorf("a request 80 ms later waits %v, want none", w)
	}
	// Climb back to just under the rate refused (49.5), then, two minutes
	// later, a probe reaches the ceiling: the burst of 5 returns.
	for at := 2100; lim.Limit() < 50 && at < 200000; at += 100 {
		m, _ := g.admit(ms(at))
		g.accepted(ms(at+20), m)
	}
	if lim.Limit() != 50 || lim.Burst() != 5 {
		t.Errorf("back at the ceiling: rate %.2f, burst %d; want 50 and 5", float64(lim.Limit()), lim.Burst())
	}
}

// A starting rate (the previous run's) is where the client begins, with a
// burst of one, and from where it probes upwards: after 5 s by 1%, then
// 2%, 4%..., every 5 s while nothing is refused.
func TestGovernorStartsAtTheStartingRateAndProbes(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 20, govT0)
	if lim.Limit() != 20 || lim.Burst() != 1 {
		t.Fatalf("start: rate %.2f burst %d, want 20 and 1", float64(lim.Limit()), lim.Burst())
	}
	if r, governed := g.pace(); r != 20 || !governed {
		t.Errorf("pace() = %v, %v; want 20, true", r, governed)
	}
	want := []float64{20, 20.2, 20.6, 21.43, 23.14}
	for s := 0; s <= 20; s++ {
		m, _ := g.admit(govT0.Add(time.Duration(s) * time.Second))
		g.accepted(govT0.Add(time.Duration(s)*time.Second+20*time.Millisecond), m)
		if s%5 == 0 {
			if got := lim.Limit(); !near(got, want[s/5]) {
				t.Errorf("%d s: rate %.2f, want %.2f", s, float64(got), want[s/5])
			}
		}
	}
	// A starting rate at or above the ceiling is the ceiling.
	lim2 := rate.NewLimiter(10, 5)
	newGovernorAt(lim2, 30, govT0)
	if lim2.Limit() != 10 || lim2.Burst() != 5 {
		t.Errorf("a starting rate above the ceiling: rate %.2f burst %d, want 10 and 5", float64(lim2.Limit()), lim2.Burst())
	}
}

// The fallback pause for a 429 without a usable Retry-After doubles only
// for a pause after which the first request was refused (it was too
// short), and starts again at the base after one was accepted.
func TestFallbackPauseGrowsOncePerBurst(t *testing.T) {
	t.Parallel()
	var p pauseGate
	const base = 100 * time.Millisecond
	for i, tt := range []struct {
		tooSoon bool
		want    time.Duration
	}{
		{false, base},
		{true, 2 * base},
		{true, 4 * base},
		{false, base},
		{true, 2 * base},
		{true, 4 * base}, {true, 8 * base}, {true, 16 * base}, {true, 32 * base},
		{true, 32 * base}, // at most 32 times the base
	} {
		if got := p.fallback(base, tt.tooSoon); got != tt.want {
			t.Errorf("pause %d (too soon %v): %v, want %v", i+1, tt.tooSoon, got, tt.want)
		}
	}
}

// pacingCase is one server shape and what the governor must achieve
// against it, on a simulated clock (pacing_sim_test.go): the share of what
// the server could take (its bucket and its rate over the run) accepted,
// the 429s in the first 30 s, and the 429s a minute after (after settle,
// for a limit that moves). The bounds are what the design achieves on the
// simulator's seed 1, less a margin; a strict server costs a pause of a
// second for every 429 of the search, which bounds what a cold start can
// reach in 90 s.
type pacingCase struct {
	name       string
	L, b, over float64
	changeTo   float64 // the limit at 30 s, if it moves
	dur        time.Duration
	minShare   float64
	max30      int
	maxPerMin  float64
	settle     time.Duration // from when maxPerMin counts; default 30 s
	reachIn    time.Duration // a rise: 90% of the new limit within this
}

func TestGovernorAgainstServersOfEveryShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []pacingCase{
		{name: "strict 10/s, client 10x", L: 10, b: 1, over: 10, minShare: 0.88, max30: 5, maxPerMin: 1},
		{name: "strict 25/s, client 2x", L: 25, b: 1, over: 2, minShare: 0.85, max30: 5, maxPerMin: 1},
		{name: "bucket 3, 10/s, client 2x", L: 10, b: 3, over: 2, minShare: 0.93, max30: 5, maxPerMin: 1},
		{name: "bucket 3, 25/s, client 10x", L: 25, b: 3, over: 10, minShare: 0.89, max30: 5, maxPerMin: 1},
		{name: "bucket 20, 2/s, client 10x", L: 2, b: 20, over: 10, minShare: 0.97, max30: 5, maxPerMin: 1},
		{name: "bucket 20, 25/s, client 10x", L: 25, b: 20, over: 10, minShare: 0.96, max30: 5, maxPerMin: 1},
		{name: "bucket 100, 10/s, client 2x", L: 10, b: 100, over: 2, minShare: 0.97, max30: 5, maxPerMin: 1},
		{name: "bucket 100, 25/s, client 10x", L: 25, b: 100, over: 10, minShare: 0.97, max30: 5, maxPerMin: 1},
		{name: "25 -> 10/s at 30 s, bucket 20", L: 25, b: 20, over: 2, changeTo: 10, dur: 2 * time.Minute,
			minShare: 0.96, max30: 5, maxPerMin: 1, settle: time.Minute},
		{name: "10 -> 25/s at 30 s, bucket 20", L: 10, b: 20, over: 5, changeTo: 25, dur: 6 * time.Minute,
			minShare: 0.7, max30: 5, maxPerMin: 2, reachIn: 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.dur == 0 {
				tc.dur = 90 * time.Second
			}
			if tc.settle == 0 {
				tc.settle = 30 * time.Second
			}
			limit := func(at time.Duration) float64 {
				if tc.changeTo > 0 && at >= 30*time.Second {
					return tc.changeTo
				}
				return tc.L
			}
			capacity := tc.b + tc.L*tc.dur.Seconds()
			if tc.changeTo > 0 {
				capacity = tc.b + tc.L*30 + tc.changeTo*(tc.dur-30*time.Second).Seconds()
			}
			srv := &pacingServer{limit: limit, bucket: tc.b}
			r := pacingRun{clientRate: tc.over * tc.L, clientBurst: 5, seed: 1}.run(srv, tc.dur)
			share := float64(len(r.accepted)) / capacity
			first := r.count(r.refused, 0, 30*time.Second)
			perMin := float64(r.count(r.refused, tc.settle, tc.dur)) / (tc.dur - tc.settle).Minutes()
			t.Logf("%.1f%% of what the server could take, %d 429s in the first 30 s, %.1f a minute after %v, final rate %.2f",
				100*share, first, perMin, tc.settle, r.finalRate)
			if share < tc.minShare {
				t.Errorf("accepted %.1f%% of what the server could take, want at least %.0f%%", 100*share, 100*tc.minShare)
			}
			if first > tc.max30 {
				t.Errorf("%d 429s in the first 30 s, want at most %d", first, tc.max30)
			}
			if perMin > tc.maxPerMin {
				t.Errorf("%.1f 429s a minute after %v, want at most %g", perMin, tc.settle, tc.maxPerMin)
			}
			if tc.reachIn > 0 {
				reached := false
				for from := 30 * time.Second; from+30*time.Second <= 30*time.Second+tc.reachIn; from += time.Second {
					if float64(r.count(r.accepted, from, from+30*time.Second))/30 >= 0.9*tc.changeTo {
						reached = true
						break
					}
				}
				if !reached {
					t.Errorf("no 30 s window within %v of the rise accepted 90%% of the new limit", tc.reachIn)
				}
			}
		})
	}
}
