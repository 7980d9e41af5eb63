package fetch

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestGovernorCutsToTheAcceptedRateAndClimbsBack(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(200, 5)
	g := newGovernor(lim)
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	// Idle for a minute (setting up the run), then 200 requests in two
	// seconds go through; the 201st gets a 429. Answers come 200 ms late.
	start := t0.Add(time.Minute)
	for i := range 200 {
		sm := g.sent(start.Add(time.Duration(i) * 10 * time.Millisecond))
		g.success(start.Add(time.Duration(i)*10*time.Millisecond+200*time.Millisecond), sm)
	}
	at := start.Add(2 * time.Second)
	m := g.sent(at)
	g.throttled(at, at.Add(time.Second), m)
	// The server took 200 in 2 s, 5 of them from its bucket: (200-5+0.5)/2.
	want := (200 - 5 + 0.5) / 2 * cutMargin
	if got := float64(lim.Limit()); math.Abs(got-want) > 0.01 {
		t.Fatalf("after the first 429 the limit is %.2f, want %.2f: just under the accepted rate, idle time not counted", got, want)
	}
	cut := lim.Limit()

	// A 429 for a request of the same spell, sent before the cut, says
	// nothing new.
	later := m
	later.n++
	g.throttled(at.Add(300*time.Millisecond), at.Add(time.Second), later)
	if lim.Limit() != cut {
		t.Errorf("a second 429 of the same spell cut again: %.1f", float64(lim.Limit()))
	}

	// Quiet for three seconds after the pause: the rate holds, then climbs
	// by 0.5% a second.
	resume := at.Add(time.Second)
	for s := 0; s < 3; s++ {
		g.success(resume.Add(time.Duration(s)*time.Second), g.sent(resume.Add(time.Duration(s)*time.Second)))
	}
	if lim.Limit() != cut {
		t.Errorf("the rate moved during the quiet spell: %.2f", float64(lim.Limit()))
	}
	g.success(resume.Add(3*time.Second+time.Millisecond), g.sent(resume.Add(3*time.Second+time.Millisecond)))
	if got := lim.Limit(); got <= cut || got > cut*1.006+0.02 {
		t.Errorf("after the quiet spell the rate is %.2f, want a small step above %.2f", float64(got), float64(cut))
	}

	// A spell too short to measure takes the blind cut.
	lim2 := rate.NewLimiter(40, 1)
	g2 := newGovernor(lim2)
	g2.sent(t0)
	m2 := g2.sent(t0.Add(50 * time.Millisecond))
	g2.throttled(t0.Add(60*time.Millisecond), t0.Add(time.Second), m2)
	if got := float64(lim2.Limit()); got != 40*blindCut {
		t.Errorf("blind cut to %.1f, want %.1f", got, 40*blindCut)
	}
}

// Issue 11, item 8: one burst of 429s, whatever its spells, is one cut.
// With Retry-After 0 every pause ends at once, so a burst spans many
// spells, each too short to measure.
func TestGovernorCutsOncePerBurst(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernor(lim)
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	now := t0
	for range 9 {
		m := g.sent(now)
		now = now.Add(10 * time.Millisecond)
		g.throttled(now, now, m)
	}
	if got := float64(lim.Limit()); got != 50*blindCut {
		t.Errorf("after one burst of 9 429s the rate is %.2f, want one cut to %.2f", got, 50*blindCut)
	}
	// A request accepted, then a 429: a new burst, a new cut.
	m := g.sent(now)
	g.success(now.Add(time.Millisecond), m)
	m = g.sent(now.Add(2 * time.Millisecond))
	g.throttled(now.Add(3*time.Millisecond), now.Add(3*time.Millisecond), m)
	if got := float64(lim.Limit()); got >= 50*blindCut {
		t.Errorf("a 429 after an accepted request did not cut: %.2f", got)
	}
}
