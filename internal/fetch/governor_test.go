package fetch

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestGovernorCutsToTheAcceptedRateAndClimbsBack(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(200, 5)
	g := newGovernor(lim)
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	// Idle for a minute (setting up the run), then Webex accepts 100/s
	// for two seconds.
	start := t0.Add(time.Minute)
	for i := range 200 {
		g.success(start.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	at := start.Add(2 * time.Second)
	g.throttled(at, at.Add(time.Second))
	if got, want := float64(lim.Limit()), 100*cutMargin*200.0/199; got < want-1 || got > want+1 {
		t.Fatalf("after the first 429 the limit is %.1f, want about %.1f: just under the accepted rate, idle time not counted", got, want)
	}
	cut := lim.Limit()

	// Answers to requests sent before the pause do not count, nor does a
	// second 429 within the second.
	g.success(at.Add(100 * time.Millisecond))
	g.throttled(at.Add(200*time.Millisecond), at.Add(time.Second))
	if lim.Limit() != cut {
		t.Errorf("a second 429 within a second cut again: %.1f", float64(lim.Limit()))
	}

	// Quiet for three seconds after the pause: the rate holds, then climbs
	// by 0.5% a second.
	resume := at.Add(time.Second)
	for s := 0; s < 3; s++ {
		g.success(resume.Add(time.Duration(s) * time.Second))
	}
	if lim.Limit() != cut {
		t.Errorf("the rate moved during the quiet spell: %.2f", float64(lim.Limit()))
	}
	g.success(resume.Add(3*time.Second + time.Millisecond))
	if got := lim.Limit(); got <= cut || got > cut*1.006+0.02 {
		t.Errorf("after the quiet spell the rate is %.2f, want a small step above %.2f", float64(got), float64(cut))
	}

	// Too little to measure: halve... by blindCut.
	lim2 := rate.NewLimiter(40, 1)
	g2 := newGovernor(lim2)
	g2.success(t0)
	g2.throttled(t0.Add(50*time.Millisecond), t0.Add(time.Second))
	if got := float64(lim2.Limit()); got != 40*blindCut {
		t.Errorf("blind cut to %.1f, want %.1f", got, 40*blindCut)
	}
}
