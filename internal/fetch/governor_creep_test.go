package fetch

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// strictServer drives g and its limiter lim against a server that takes a
// request only 1/limit or more after the last one it took (a bucket of
// one token), with no timing noise: answers come back 20 ms after a
// request is sent, and a refusal pauses the client for a second. It runs
// until until, and returns the rate in force at each refusal and the rate
// in force at every whole second.
type strictServer struct {
	limit    float64
	last     time.Duration // when the server last took a request; -1: never
	refusals []rate.Limit
	at       []rate.Limit // the rate in force at each whole second
}

func (s *strictServer) run(g *governor, lim *rate.Limiter, until time.Duration) {
	s.last = -time.Hour
	t := time.Duration(0)
	at := func(d time.Duration) time.Time { return govT0.Add(d) }
	for t < until {
		for time.Duration(len(s.at))*time.Second <= t {
			s.at = append(s.at, lim.Limit())
		}
		if d := lim.ReserveN(at(t), 1).DelayFrom(at(t)); d > 0 {
			t += d
		}
		m, wait := g.admit(at(t))
		for wait > 0 {
			t += wait
			m, wait = g.admit(at(t))
		}
		if t-s.last >= time.Duration(float64(time.Second)/s.limit) {
			s.last = t
			g.accepted(at(t+20*time.Millisecond), m)
			continue
		}
		s.refusals = append(s.refusals, m.rate)
		g.refused(at(t+time.Millisecond), m, false)
		g.paused(at(t + time.Second))
		t += time.Second
	}
}

// Against a strict server of 25/s, the bounds of a refusal's fit are
// about 5% apart (each request is read with a millisecond of noise, 2.5%
// of the 40 ms between requests), and the governor holds under the lower
// one. From there it creeps: 0.5% every 2 s, until a refusal, which takes
// it two steps back; a later creep stops two steps under the rate
// refused: 24.73/s, 98.9% of the limit, from 23.76/s (95%) without the
// creep.
func TestGovernorCreepsUpAgainstAStrictServer(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(50, 5)
	lim.ReserveN(govT0, 5)
	g := newGovernorAt(lim, 0, govT0)
	s := &strictServer{limit: 25}
	s.run(g, lim, 90*time.Second)
	t.Logf("refused at %.2f/s; the rate at 5, 10, 20 and 60 s: %.2f, %.2f, %.2f, %.2f/s", s.refusals, s.at[5], s.at[10], s.at[20], s.at[60])
	// After the climb's refusal (25.15/s) the fit's bounds are
	// 23.99-26.1/s: it holds at 23.76/s, 95% of the limit.
	if r := s.at[5]; r > 24 {
		t.Errorf("after the climb's refusal the rate is %.2f/s, want under the fit's lower bound, 24", float64(r))
	}
	if len(s.refusals) != 3 {
		t.Fatalf("%d refusals, want 3: the first at the ceiling, the climb's, the creep's", len(s.refusals))
	}
	// The creep's refusal comes at the first step whose spacing,
	// (1-0.005)/rate, is under 40 ms: above 24.875/s.
	if r := s.refusals[2]; r <= 24.875 || r > 24.875*1.005 {
		t.Errorf("the creep was refused at %.2f/s, want 24.88-25.00", float64(r))
	}
	// Two steps back, held to the end.
	want := s.refusals[2] / 1.005 / 1.005
	for sec := 60; sec < len(s.at); sec++ {
		if !near(s.at[sec], float64(want)) {
			t.Fatalf("at %d s the rate is %.3f, want %.3f (two steps under the refused one) from then on", sec, float64(s.at[sec]), float64(want))
		}
	}
}

// The answers of requests in flight together race to the governor: a
// client at 250/s sends four requests 4 ms apart to a strict server, which
// takes the first and refuses the rest, and the 429 of the fourth is the
// first the governor hears. Taken alone it says the server took three
// requests, and the blind cut is to half of 250/s; the 429 of the second,
// heard next, says it took one, and the cut is made as deep as for one
// that took no more than two: a quarter, 62.5/s.
func TestGovernorTakesInAnEarlierRefusalOfTheBurst(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(250, 5)
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
	var marks []sendMark
	for i := range 4 {
		m, _ := g.admit(ms(4 * i))
		marks = append(marks, m)
	}
	g.refused(ms(13), marks[3], false)
	g.paused(ms(1013))
	if got := lim.Limit(); got != 125 {
		t.Fatalf("after the 429 of the fourth request: %.2f/s, want 125 (half of 250)", float64(got))
	}
	g.refused(ms(14), marks[1], false)
	g.refused(ms(14), marks[2], false)
	if got := lim.Limit(); got != 62.5 {
		t.Errorf("after the 429 of the second request: %.2f/s, want 62.5 (a quarter of 250)", float64(got))
	}
	g.accepted(ms(21), marks[0])
	if !g.early {
		t.Errorf("the burst began with the second request: want it early")
	}
}

// A blind cut refused at the rate it cut to, before the climb moved it,
// says the limit is further below than half the rate refused: the next
// cut is to a quarter. A server that takes three requests and refuses the
// fourth, at 100/s and again at 50/s: 100 -> 50, then a quarter of the
// least rate the record refuses. That is not 50/s: the record (a bucket
// of four tokens at most, as the first spell says, and at least 2.14,
// since it took three 20 ms apart) refuses every rate from 31.56/s on,
// and the cut is to a quarter of that, 7.89/s, not 12.5 (and certainly
// not 25), with the climb back towards 31.24/s (1% under it).
func TestGovernorCutsDeeperWhenABlindCutIsRefused(t *testing.T) {
	t.Parallel()
	lim := rate.NewLimiter(100, 5)
	g := pastSlowStart(newGovernorAt(lim, 0, govT0))
	spell := func(start, gap int) {
		var m sendMark
		for i := range 4 {
			m, _ = g.admit(ms(start + gap*i))
			if i < 3 {
				g.accepted(ms(start+gap*i+1), m)
			}
		}
		g.refused(ms(start+gap*3+1), m, false)
		g.paused(ms(start + gap*3 + 1001))
	}
	spell(0, 10)
	if got := lim.Limit(); got != 50 {
		t.Fatalf("after the first refusal: %.2f/s, want 50 (half of 100)", float64(got))
	}
	spell(1031, 20)
	if got := lim.Limit(); !near(got, 7.89) || !near(g.target, 31.24) {
		t.Errorf("after the cut to 50/s was refused at 50/s: %.2f/s climbing to %.2f, want 7.89 (a quarter of 31.56, the least rate the record refuses) climbing to 31.24",
			float64(got), float64(g.target))
	}
}
