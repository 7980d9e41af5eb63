package fetch

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var govT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func near(got rate.Limit, want float64) bool { return math.Abs(float64(got)-want) < 0.01 }

// pastSlowStart is g once its slow start ended without a 429 (the window
// outgrew it: see admit), with the configured burst and no window: the
// tests that use it are about what follows the first 429 of such a run,
// or of one whose requests leave together. The slow start itself is
// TestGovernorStartsSlowly's.
func pastSlowStart(g *governor) *governor {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endStart(govT0)
	return g
}

// admitWhenLet admits a request at at, or as much later as the governor
// says to wait, and returns its mark and when it left.
func admitWhenLet(g *governor, at time.Time) (sendMark, time.Time) {
	for {
		m, wait := g.admit(at)
		if wait <= 0 {
			return m, at
		}
		at = at.Add(wait)
	}
}

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
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
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
// request accepted at the rate in force, each closing 15% of the gap but
// rising by no more than 6%: after a quiet second, 12.5 -> 13.25 -> 14.05
// -> 14.89 on the way to 49.5 (15% of the gap would be 18.05).
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
	for i, want := range []float64{13.25, 14.045, 14.888} {
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
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
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

// Against a server whose bucket may be a single token, a request that
// reached it late is followed by one that leaves as much later: the next
// request waits for the spacing after the last one's estimated arrival,
// its round trip above the least of the recent ones; until its answer is
// back, at least the time since it left less the least round trip, at
// most 50 ms.
func TestGovernorSpacesAfterALateRequest(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 0, govT0)
	m, _ := g.admit(govT0)
	g.refused(ms(1), m, false) // a quarter: 12.5/s, the next 79.6 ms apart
	g.paused(ms(1000))
	if g.roomy || lim.Burst() != 1 {
		t.Fatalf("after a refusal of the second request: roomy %v, burst %d; want a strict server's spacing, burst 1", g.roomy, lim.Burst())
	}
	// Nine requests 80 ms apart, each answered 20 ms later (within the
	// quiet second after the pause: the rate stays at 12.5/s).
	at := 1010
	for i := range 9 {
		m, wait := g.admit(ms(at))
		if wait != 0 {
			t.Fatalf("request %d waited %v", i+1, wait)
		}
		g.accepted(ms(at+20), m)
		at += 80
	}
	// The tenth is answered after 25 ms: it reached the server 5 ms late.
	m, _ = g.admit(ms(at)) // 1730
	g.accepted(ms(at+25), m)
	if _, wait := g.admit(ms(at + 80)); wait != 4600*time.Microsecond {
		t.Errorf("after a request 5 ms late, the next at 80 ms waits %v, want 4.6ms (5 + 79.6 - 80)", wait)
	}
	m, _ = g.admit(ms(at + 85)) // 1815, its answer not back
	if _, wait := g.admit(ms(at + 85 + 60)); wait != 59600*time.Microsecond {
		t.Errorf("60 ms after a request not yet answered, the next waits %v, want 59.6ms (at least 40 ms late: 40 + 79.6 - 60)", wait)
	}
	if _, wait := g.admit(ms(at + 85 + 100)); wait != 29600*time.Microsecond {
		t.Errorf("100 ms after a request not yet answered, the next waits %v, want 29.6ms (late by at most 50 ms: 50 + 79.6 - 100)", wait)
	}
	g.accepted(ms(at+85+110), m) // 90 ms late: taken as 90, capped at 50
	if _, wait := g.admit(ms(at + 85 + 120)); wait != 9600*time.Microsecond {
		t.Errorf("after a request answered 90 ms late, the next at 120 ms waits %v, want 9.6ms (50 + 79.6 - 120)", wait)
	}
}

// Two bursts in a row refused within the first two requests after their
// pauses, the second at no more than the rate the first decided on: the
// limit fell. The record before, and the timing noise it was read with,
// are set aside: the next fit starts at the second refusal, with the
// least noise.
func TestGovernorForgetsTheRecordWhenTheLimitFell(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 20, govT0)
	at := 0
	for range 60 {
		m, _ := g.admit(ms(at))
		g.accepted(ms(at+20), m)
		at += 50
	}
	m, _ := g.admit(ms(at)) // 3000: the 61st, refused
	g.refused(ms(at+1), m, false)
	g.paused(ms(at + 1000))
	held := lim.Limit()
	g.slack = 8 * time.Millisecond // as widened by refusals the fit could not place
	// After the pause: the first taken, the second refused. (Each
	// request leaves when the spacing lets it.)
	m1, at1 := admitWhenLet(g, govT0.Add(4010*time.Millisecond))
	g.accepted(at1.Add(20*time.Millisecond), m1)
	m2, at2 := admitWhenLet(g, at1.Add(100*time.Millisecond))
	g.refused(at2.Add(time.Millisecond), m2, false)
	if g.slack != 8*time.Millisecond {
		t.Fatalf("one early refusal reset the noise to %v", g.slack)
	}
	g.paused(at2.Add(time.Second))
	if lim.Limit() > held {
		t.Fatalf("the rate rose from %.2f to %.2f after a refusal", float64(held), float64(lim.Limit()))
	}
	m3, at3 := admitWhenLet(g, at2.Add(1010*time.Millisecond))
	g.accepted(at3.Add(20*time.Millisecond), m3)
	m4, at4 := admitWhenLet(g, at3.Add(200*time.Millisecond))
	g.refused(at4.Add(time.Millisecond), m4, false)
	if m4.n != 2 {
		t.Fatalf("the refused request is the spell's request %d, want its second", m4.n)
	}
	if g.slack != fitSlack || g.fitFrom != m4.seq || g.fitStart != startRefused {
		t.Errorf("after a second early refusal: noise %v, fit from %d (%v); want %v, from the refusal (%d)", g.slack, g.fitFrom, g.fitStart, fitSlack, m4.seq)
	}
}

// A record trimmed in the middle of a hold, with no refusal left in it,
// is fitted from a bucket that may have held anything, not from an empty
// one.
func TestGovernorTrimmedRecordStartsUnknown(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 20, govT0)
	for i := range recordSize + 1 {
		m, _ := g.admit(govT0.Add(time.Duration(i) * 50 * time.Millisecond))
		g.accepted(govT0.Add(time.Duration(i)*50*time.Millisecond+20*time.Millisecond), m)
	}
	if g.recordFrom != recordSize/4 || g.fitStart != startUnknown || g.fitFrom != g.recordFrom+len(g.record)-1 {
		t.Errorf("after a trim: record from %d, fit from %d (%v); want %d, the request that triggered it (%d), unknown",
			g.recordFrom, g.fitFrom, g.fitStart, recordSize/4, g.recordFrom+len(g.record)-1)
	}
}

// A probe refused before the record proved any room above the rate it
// began at goes back to that rate (20/s, held without a refusal), rather
// than half way into bounds that the probe's own steps widened; and a
// refit starting at that refusal does not go above the least rate the
// refusal's fit forbade.
func TestGovernorProbeRefusedGoesBack(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernorAt(lim, 20, govT0)
	// The probe: 20.2/s after 5 s, 20.6 after 10, 21.43 after 15.
	var m sendMark
	at := time.Duration(0)
	for at < 16*time.Second {
		m, _ = g.admit(govT0.Add(at))
		g.accepted(govT0.Add(at+20*time.Millisecond), m)
		at += time.Duration(float64(time.Second) / float64(lim.Limit()))
	}
	if got := lim.Limit(); !near(got, 21.43) {
		t.Fatalf("the probe's third step: %.2f, want 21.43", float64(got))
	}
	m, _ = g.admit(govT0.Add(at))
	v := g.refused(govT0.Add(at+time.Millisecond), m, false)
	if got := lim.Limit(); got != 20 {
		t.Errorf("a probe refused at 21.43/s (fit %.2f-%.2f) went to %.2f, want back to 20", float64(v.lo), float64(v.hi), float64(got))
	}
	// The refused request left 46.7 ms after the one before; read with
	// 1 ms of noise, the server's rate is below 1/45.7 ms = 21.9/s (to
	// the fit's half percent).
	if g.bound < 21.43 || g.bound > 22.05 {
		t.Errorf("the refusal's upper bound is %.2f, want 21.9-22.0", g.bound)
	}
}

// roomyAfterFiveAtOnce is a governor of lim, past its slow start, whose
// first five requests left at once and were taken, as were the next two,
// 20 ms apart, and whose eighth was refused: only a bucket of a few tokens
// explains that, so the fit says roomy. Its pause ends at 1061 ms.
func roomyAfterFiveAtOnce(lim *rate.Limiter) *governor {
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
	var m sendMark
	for i := range 8 {
		at := max(0, 20*(i-4)) // five at once, then 20 ms apart
		m, _ = g.admit(ms(at))
		if i < 7 {
			g.accepted(ms(at+20), m)
		}
	}
	g.refused(ms(61), m, false)
	g.paused(ms(1061))
	return g
}

// Against a server that took five requests sent at once, and two more
// 20 ms apart, before refusing the eighth, every bucket that explains the
// record holds 2 tokens or more (a bucket of 1 takes no two requests at
// once): the client's burst is 2 and the spacing half a request, so that a
// late wake-up is caught up (an early request finds a token all the same).
// Against a strict server, after a refusal of the second request, the
// burst is 1 and the spacing (1-0.005)/rate.
func TestGovernorCatchesUpAgainstARoomyServer(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := roomyAfterFiveAtOnce(lim)
	r := float64(lim.Limit())
	if !g.roomy || lim.Burst() != 2 {
		t.Fatalf("after five taken at once: roomy %v, burst %d; want true and 2", g.roomy, lim.Burst())
	}
	g.admit(ms(1100))
	want := time.Duration(0.5 / r * float64(time.Second))
	if _, wait := g.admit(ms(1100)); wait != want {
		t.Errorf("a second request at once waits %v, want %v (half a request at %.2f/s)", wait, want, r)
	}

	strict := rate.NewLimiter(50, 5)
	gs := newGovernorAt(strict, 0, govT0)
	m1, _ := gs.admit(ms(0))
	gs.accepted(ms(20), m1)
	m2, _ := gs.admit(ms(20))
	gs.refused(ms(21), m2, false)
	gs.paused(ms(1021))
	if gs.roomy || strict.Burst() != 1 {
		t.Fatalf("after a refusal of the second request, 20 ms after the first: roomy %v, burst %d; want false and 1", gs.roomy, strict.Burst())
	}
}

// A server that took 30 requests sent at once holds 27 tokens or more.
// After a hold longer than a fit reads (maxFit requests, 50 ms apart),
// a refusal's fit reads only the hold's latest requests, from a bucket
// that may have held anything, which a strict server of 20/s explains
// just as well; the governor keeps what the first spell said of the
// bucket, so the server is still roomy: the client's burst stays above
// one and its spacing half a request.
func TestGovernorKeepsWhatItLearnedOfTheBucket(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(100, 40)
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
	var m sendMark
	for i := range 31 {
		m, _ = g.admit(ms(0))
		if i < 30 {
			g.accepted(ms(20), m)
		}
	}
	g.refused(ms(1), m, false)
	g.paused(ms(1001))
	if !g.roomy || g.minBucket < 27 {
		t.Fatalf("after 30 taken at once: roomy %v, least bucket %.1f; want true and 27 or more", g.roomy, g.minBucket)
	}
	const hold = maxFit + 100
	at := 1001
	for i := 0; ; i++ {
		// 50 ms apart, whatever the rate in force: the admit's spacing
		// is half a request or less.
		m, _ = g.admit(ms(at))
		if i == hold {
			break
		}
		g.accepted(ms(at+20), m)
		at += 50
	}
	g.refused(ms(at+1), m, false)
	g.paused(ms(at + 1001))
	if !g.roomy || lim.Burst() < 2 || g.minBucket < 27 {
		t.Errorf("after a long hold, refused: roomy %v, burst %d, least bucket %.1f; want true, 2 or more, 27 or more", g.roomy, lim.Burst(), g.minBucket)
	}
	// Without what the first spell said, the hold's latest requests read
	// strict.
	end := len(g.record)
	if f := fitRecord(g.record[end-maxFit-1:end], startUnknown, fitSlack, 0.05, 200, math.Inf(1)); !f.ok || f.smallest >= 2 {
		t.Errorf("the hold's latest requests alone: %+v, want a fit whose smallest bucket is 1", f)
	}
}

// The spacing wait ends on time (onTime) only where a late request is lost
// for good: once governing, against a server whose bucket may hold one
// token. Before the first 429 the wait is the configured rate's; against a
// roomy server the bucket catches a late request up.
func TestGovernorWaitsOnTimeOnlyAgainstAStrictServer(t *testing.T) {
	t.Parallel()
	strict := newGovernorAt(rate.NewLimiter(50, 5), 0, govT0)
	if strict.onTime() {
		t.Fatal("before any 429: on time, want the configured rate's ordinary wait")
	}
	m1, _ := strict.admit(ms(0))
	strict.accepted(ms(20), m1)
	m2, _ := strict.admit(ms(20))
	strict.refused(ms(21), m2, false) // the second request, 20 ms after the first: a bucket of one
	strict.paused(ms(1021))
	if strict.roomy || !strict.onTime() {
		t.Fatalf("after a refusal of the second request, 20 ms after the first: roomy %v, on time %v; want false and true", strict.roomy, strict.onTime())
	}

	roomy := roomyAfterFiveAtOnce(rate.NewLimiter(50, 5))
	if !roomy.roomy || roomy.onTime() {
		t.Fatalf("after five taken at once: roomy %v, on time %v; want true and false", roomy.roomy, roomy.onTime())
	}
}

// The record keeps how late each request taken is taken to have reached
// the server, for the fit (see TestFitRecordReadsARefusalAfterALateRequest):
// its round trip over the least of the recent ones, once there are rttMin
// of them, while the answers are steady. Nine requests taken after a 429,
// each answered 20 ms after it left but the ninth, answered 23 ms after:
// 3 ms late; the eighth, 0. Against a server whose own latency varies,
// answers 100, 150, 200, 250 and 300 ms after the request in turn, the
// ninth answered 250 ms after it is not taken to have reached it late.
func TestGovernorRecordsHowLateARequestWas(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		rtt      func(i int) time.Duration
		wantLast time.Duration
	}{
		{"steady answers", func(i int) time.Duration {
			if i == 8 {
				return 23 * time.Millisecond
			}
			return 20 * time.Millisecond
		}, 3 * time.Millisecond},
		{"a server's latency of 100-300 ms", func(i int) time.Duration {
			return time.Duration(100+50*(i%5)) * time.Millisecond
		}, 0},
	} {
		g := pastSlowStart(newGovernorAt(rate.NewLimiter(25, 5), 0, govT0))
		m, _ := g.admit(ms(0))
		g.refused(ms(1), m, false)
		g.paused(ms(1001))
		at := ms(1001)
		var marks []sendMark
		for i := range 9 {
			m, sent := admitWhenLet(g, at)
			g.accepted(sent.Add(tt.rtt(i)), m)
			marks = append(marks, m)
			at = sent.Add(tt.rtt(i))
		}
		late := func(m sendMark) time.Duration {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.record[m.seq-g.recordFrom].late
		}
		if got := late(marks[7]); tt.wantLast > 0 && got != 0 {
			t.Errorf("%s: the eighth request, answered in the least round trip: late %v, want 0", tt.name, got)
		}
		if got := late(marks[8]); got != tt.wantLast {
			t.Errorf("%s: the ninth request, answered %v after it left: late %v, want %v", tt.name, tt.rtt(8), got, tt.wantLast)
		}
	}
}

// Against a roomy server the hold sits 3% under the fit's upper bound: a
// refusal's upper bound errs high by what the bucket and the latency hid.
// The pacing scenario's R/2 climb fits 22.9-25.6/s with a smallest bucket
// of 4.6 against a server of 25/s: the hold is 24.83/s, under it (at 98%
// it was 25.09/s, over it, and refused 10-17 s later).
func TestGovernorHoldsARoomyServerUnderItsUpperBound(t *testing.T) {
	t.Parallel()
	g := pastSlowStart(newGovernorAt(rate.NewLimiter(50, 5), 0, govT0))
	f := fit{lo: 22.9, hi: 25.6, smallest: 4.6, ok: true}
	if got := g.holdRate(f); !near(got, 24.83) {
		t.Errorf("hold for a roomy fit of 22.9-25.6/s: %.2f/s, want 24.83 (97%% of 25.6)", float64(got))
	}
}
