package fetch

import (
	"container/heap"
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var govT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func near(got rate.Limit, want float64) bool { return math.Abs(float64(got)-want) < 0.01 }

// answered reports to g the answer, at t, to a request sent just before:
// success reads only its send time.
func answered(g *governor, t time.Time) { g.success(t, sendMark{sentAt: t.Add(-time.Millisecond)}) }

func TestGovernorCutsToTheAcceptedRateAndClimbsBack(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(200, 5)
	g := newGovernor(lim)

	// Idle for a minute (setting up the run), then 150 requests in 1.5
	// seconds go through; the 151st gets a 429. Answers come 200 ms late.
	start := govT0.Add(time.Minute)
	for i := range 150 {
		sm := g.sent(start.Add(time.Duration(i) * 10 * time.Millisecond))
		g.success(start.Add(time.Duration(i)*10*time.Millisecond+200*time.Millisecond), sm)
	}
	at := start.Add(1500 * time.Millisecond)
	m := g.sent(at)
	g.throttled(at, at.Add(time.Second), m)
	// The server took 150 in 1.5 s, 5 of them from its bucket: 97/s, idle
	// time not counted. A stretch of 1.5 s is rough: 3% under it.
	if got := lim.Limit(); !near(got, 94.09) {
		t.Fatalf("after the first 429 the limit is %.2f, want 94.09", float64(got))
	}

	// A 429 for a request of the same spell, sent before the cut, says
	// nothing new.
	later := m
	later.n++
	g.throttled(at.Add(300*time.Millisecond), at.Add(time.Second), later)
	if got := lim.Limit(); !near(got, 94.09) {
		t.Errorf("a second 429 of the same spell cut again: %.2f", float64(got))
	}

	// Quiet for a second after the pause: the rate holds, then climbs
	// once a second by 1%, 2%, 3% (plus 0.01) towards the ceiling: nothing
	// is known yet.
	resume := at.Add(time.Second)
	answered(g, resume.Add(500*time.Millisecond))
	if got := lim.Limit(); !near(got, 94.09) {
		t.Errorf("the rate moved during the quiet spell: %.2f", float64(got))
	}
	for s, want := range []float64{95.04, 96.95, 99.87} {
		answered(g, resume.Add(time.Duration(1+s)*time.Second+time.Millisecond))
		if got := lim.Limit(); !near(got, want) {
			t.Errorf("%d s into the climb the rate is %.2f, want %.2f", s+1, float64(got), want)
		}
	}

	// A spell too short to measure takes the blind cut.
	lim2 := rate.NewLimiter(40, 1)
	g2 := newGovernor(lim2)
	g2.sent(govT0)
	m2 := g2.sent(govT0.Add(50 * time.Millisecond))
	g2.throttled(govT0.Add(60*time.Millisecond), govT0.Add(time.Second), m2)
	if got := lim2.Limit(); got != 30 {
		t.Errorf("blind cut to %.1f, want 30", float64(got))
	}
}

// A 429 at the end of a long stretch is a trusted measurement: the rate
// holds 0.2% under it for five minutes, then probes upwards.
func TestGovernorRemembersTheAcceptedRateAndProbesRarely(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernor(lim)
	// A minute at 25.08/s: the server's bucket (5) plus 25/s for 60 s were
	// accepted, then the 1506th request is refused.
	for i := range 1505 {
		g.sent(govT0.Add(time.Duration(i) * 60 * time.Second / 1505))
	}
	at := govT0.Add(60 * time.Second)
	g.throttled(at, at.Add(time.Second), g.sent(at))
	if got := lim.Limit(); !near(got, 24.96) { // 1500.5/60 = 25.008, less 0.2%
		t.Fatalf("after a trusted measurement the rate is %.2f, want 24.96", float64(got))
	}
	// Holding: nothing moves it for five minutes.
	for s := 1; s < 300; s++ {
		answered(g, at.Add(time.Duration(s)*time.Second))
		if got := lim.Limit(); !near(got, 24.96) {
			t.Fatalf("%d s after the measurement the rate is %.2f, want it held at 24.96", s, float64(got))
		}
	}
	// Then a probe: 1%, 2%, 3% above it.
	for s, want := range []float64{25.22, 25.73, 26.51} {
		answered(g, at.Add(time.Duration(300+s)*time.Second))
		if got := lim.Limit(); !near(got, want) {
			t.Errorf("%d s into the probe the rate is %.2f, want %.2f", s+1, float64(got), want)
		}
	}

	// A rough cut later (here blind: the spell is one request) climbs back
	// to the remembered rate and holds there, rather than probing on.
	at2 := at.Add(303 * time.Second)
	g.throttled(at2, at2.Add(time.Second), g.sent(at2))
	if got := lim.Limit(); !near(got, 19.89) { // 26.51 * 0.75
		t.Fatalf("after a blind cut the rate is %.2f, want 19.89", float64(got))
	}
	for s := 2; s < 120; s++ {
		answered(g, at2.Add(time.Duration(s)*time.Second))
	}
	if got := lim.Limit(); !near(got, 24.96) {
		t.Errorf("two minutes after the rough cut the rate is %.2f, want it back at the remembered 24.96 and held", float64(got))
	}
}

// pacingSim drives a governor and its limiter, on a simulated clock, against
// a server that keeps a token bucket of rate limit(t) and burst 5, answers
// an accepted request after 100-300 ms and a refused one at once with
// Retry-After: the whole seconds until its next token (as webexsim does).
// The client is never short of work or workers.
type pacingSim struct {
	accepted, throttled int
	acceptedIn          func(from, to time.Duration) int
	throttledIn         func(from, to time.Duration) int
}

type answer struct {
	at   time.Time
	mark sendMark
}

type answerQueue []answer

func (q answerQueue) Len() int           { return len(q) }
func (q answerQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q answerQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *answerQueue) Push(x any)        { *q = append(*q, x.(answer)) }
func (q *answerQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func runPacingSim(clientRate float64, limit func(time.Duration) float64, dur time.Duration) pacingSim {
	const burst = 5
	lim := rate.NewLimiter(rate.Limit(clientRate), burst)
	lim.ReserveN(govT0, burst) // the client starts with an empty bucket
	g := newGovernor(lim)
	var (
		tokens    = float64(burst)
		last      = govT0
		pauseEnd  time.Time
		answers   answerQueue
		acc, thr  []time.Duration
		jitterSeq uint64
	)
	const tick = time.Millisecond
	for now := govT0; now.Sub(govT0) < dur; now = now.Add(tick) {
		for answers.Len() > 0 && !answers[0].at.After(now) {
			a := heap.Pop(&answers).(answer)
			g.success(a.at, a.mark)
		}
		L := limit(now.Sub(govT0))
		tokens = math.Min(burst, tokens+L*now.Sub(last).Seconds())
		last = now
		for now.After(pauseEnd) || now.Equal(pauseEnd) {
			if !lim.AllowN(now, 1) {
				break
			}
			mark := g.sent(now)
			if tokens >= 1 {
				tokens--
				jitterSeq++
				lat := 100*time.Millisecond + time.Duration(mix(jitterSeq)%200)*time.Millisecond
				heap.Push(&answers, answer{now.Add(lat), mark})
				acc = append(acc, now.Sub(govT0))
				continue
			}
			wait := time.Duration(math.Ceil((1-tokens)/L)) * time.Second
			pauseEnd = now.Add(wait)
			g.throttled(now, pauseEnd, mark)
			thr = append(thr, now.Sub(govT0))
		}
	}
	count := func(ts []time.Duration) func(from, to time.Duration) int {
		return func(from, to time.Duration) int {
			n := 0
			for _, t := range ts {
				if t >= from && t < to {
					n++
				}
			}
			return n
		}
	}
	return pacingSim{accepted: len(acc), throttled: len(thr), acceptedIn: count(acc), throttledIn: count(thr)}
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// The target: against a server limit L below the client's rate,
// over five minutes, accept at least 97% of L with at most one 429 a minute.
func TestGovernorPacingAtAnUnknownLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		client, L   float64
		minAccepted float64 // share of L × 300 s
		max429      int
	}{
		{"server at half the client's rate", 50, 25, 0.97, 5},
		// Five times over, the first spell is too short to say much: the
		// climb back from a rough cut costs a little more.
		{"server at a fifth", 50, 10, 0.96, 5},
		{"server just under the client", 50, 45, 0.97, 5},
		{"server at the client's rate", 50, 50, 0.99, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runPacingSim(tt.client, func(time.Duration) float64 { return tt.L }, 5*time.Minute)
			share := float64(r.accepted) / (tt.L * 300)
			t.Logf("accepted %d (%.1f%% of L), %d 429s", r.accepted, 100*share, r.throttled)
			if share < tt.minAccepted {
				t.Errorf("accepted %.1f%% of L over five minutes, want at least %.0f%%", 100*share, 100*tt.minAccepted)
			}
			if r.throttled > tt.max429 {
				t.Errorf("%d 429s in five minutes, want at most %d", r.throttled, tt.max429)
			}
		})
	}
}

// A limit that goes up is found by the next probe; one that goes down is
// followed at once.
func TestGovernorFollowsALimitThatMoves(t *testing.T) {
	t.Parallel()
	limit := func(t time.Duration) float64 {
		switch {
		case t < 3*time.Minute:
			return 20
		case t < 12*time.Minute:
			return 40
		default:
			return 15
		}
	}
	r := runPacingSim(50, limit, 16*time.Minute)
	// Up at 3 min: the probe due 5 min after the last measurement (made
	// within the first minute) finds it by minute 7; minutes 8-12 run at it.
	if got := float64(r.acceptedIn(8*time.Minute, 12*time.Minute)) / (40 * 240); got < 0.97 {
		t.Errorf("minutes 8-12 accepted %.1f%% of the raised limit 40/s, want at least 97%%", 100*got)
	}
	// Down at 12 min: minutes 13-16 run at the lowered limit.
	if got := float64(r.acceptedIn(13*time.Minute, 16*time.Minute)) / (15 * 180); got < 0.97 || got > 1.0 {
		t.Errorf("minutes 13-16 accepted %.1f%% of the lowered limit 15/s, want 97-100%%", 100*got)
	}
	if n := r.throttledIn(13*time.Minute, 16*time.Minute); n > 3 {
		t.Errorf("%d 429s in minutes 13-16, want at most one a minute", n)
	}
}

// Issue 11, item 8: one burst of 429s, whatever its spells, is one cut.
// With Retry-After 0 every pause ends at once, so a burst spans many
// spells, each too short to measure.
func TestGovernorCutsOncePerBurst(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	g := newGovernor(lim)
	now := govT0
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
