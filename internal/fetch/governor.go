package fetch

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// governor adapts the limiter's rate to what Webex accepts. Webex publishes
// no limit and changes it without notice, so the configured rate is a
// ceiling, not a target. Every 429 costs a pause of at least a second for
// the whole client, so fewer of them is more throughput, not less: the
// governor remembers the rate the server accepted and holds just under it,
// and probes above it only rarely, to notice a limit that went up.
//
// The accepted rate is measured from what was sent, not from what was
// answered: a 429 comes back at once while an accepted request's answer
// takes its latency, so counting answers under-measures the server. Time is
// cut into spells, each from the first request sent after a pause to the
// next 429. A server's token bucket (rate L, burst b) refuses a request
// when, for some earlier moment t0, the requests since t0 exceed b + L×(t-t0);
// and it took every one before. So the 429 says L is about the largest
// (k-b)/(t-t0) over the last k sends of the spell: the server's rate over
// the stretch in which the client outran it and drained its bucket,
// whatever the client's pace before. Over a stretch of many requests that
// is the server's rate to within a percent; over a few it is rough.
//
// The governor is in one of two modes:
//   - climbing: the rate rises by climbStep a second (after a quiet spell
//     following a cut) up to a cap. It climbs after a rough measurement,
//     towards the remembered rate, and when it probes, towards the ceiling.
//   - holding: the rate stays at holdMargin of the remembered rate until
//     the next probe is due (probeEvery after the measurement).
//
// A measurement over at least trustRequests requests and trustSpell is
// trusted: it is remembered, and the governor holds. A rougher one cuts to
// cutMargin of what it measured and climbs back towards the remembered
// rate, if any.
type governor struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	ceiling rate.Limit
	floor   rate.Limit

	spell      int       // current spell number
	spellStart time.Time // first send of the spell; zero before it
	sentN      int       // requests sent in the spell
	pauseEnd   time.Time // sends before it belong to no spell
	// sends holds the send times of the spell's last len(sends) requests
	// (a ring indexed by sentN), for the measurement at its 429.
	sends [sendHistory]time.Time

	known   rate.Limit // the server's rate as last measured over a long spell; 0: not known
	holding bool       // holding at known*holdMargin (else climbing to climbCap)
	cap     rate.Limit // where a climb stops
	probeAt time.Time  // when holding ends and a probe climbs to the ceiling

	lastCut   time.Time
	lastRaise time.Time
	raises    int // raises since the climb began: each step is larger
	// lastAccepted is when a request sent after the last cut was last
	// accepted. A 429 for a request sent before that is part of the same
	// burst as the last cut, and does not cut again: with Retry-After 0 (or
	// a date in the past) a burst spans many short spells, and cutting for
	// each of them collapsed the rate (50 to 3.75 requests a second in 9
	// cuts).
	lastAccepted time.Time
}

// sendMark identifies a request within its spell.
type sendMark struct {
	spell  int
	n      int           // 1-based position in the spell; 0: sent during a pause
	at     time.Duration // time since the spell's first send
	sentAt time.Time
}

const (
	// quietBeforeRaise is how long after a cut's pause the rate holds still.
	quietBeforeRaise = time.Second
	// A climb raises the rate once a second, the n-th time by n×climbStep
	// (at most maxStep): gently near where it started, which is near the
	// server's rate after a good measurement, and fast when a rough one
	// left it far below.
	climbStep = 0.01
	maxStep   = 0.10
	// blindCut is the cut when a spell is too short to measure.
	blindCut = 0.75
	// cutMargin is how far below a rough measurement a cut lands.
	cutMargin = 0.97
	// holdMargin is how far below a trusted measurement the rate holds. The
	// measurement errs low by a few tenths of a percent (the fraction of a
	// token left in the server's bucket); one that errs high drains the
	// bucket slowly, and its 429 then measures over a long stretch.
	holdMargin = 0.998
	// minSpell is the shortest stretch whose rate is measured at all.
	minSpell = 100 * time.Millisecond
	// trustSpell and trustRequests make a measurement trusted: a stretch
	// this long, of this many requests, is good to about a percent.
	trustSpell    = 2 * time.Second
	trustRequests = 50
	// sendHistory bounds the stretch a measurement looks back over.
	sendHistory = 4096
	// probeEvery is how long the rate holds under a trusted measurement
	// before climbing above it, to find out whether the limit went up.
	probeEvery = 5 * time.Minute
)

func newGovernor(lim *rate.Limiter) *governor {
	ceiling := lim.Limit()
	floor := min(ceiling, 0.05) // one request in 20 s at the least
	return &governor{lim: lim, ceiling: ceiling, floor: floor, cap: ceiling}
}

// sent records a request about to be sent and returns its mark.
func (g *governor) sent(now time.Time) sendMark {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.pauseEnd) {
		return sendMark{spell: g.spell, sentAt: now}
	}
	if g.spellStart.IsZero() {
		g.spellStart = now
	}
	g.sentN++
	g.sends[g.sentN%sendHistory] = now
	return sendMark{spell: g.spell, n: g.sentN, at: now.Sub(g.spellStart), sentAt: now}
}

// success records an accepted request, marked m: it is what moves a climb
// on, once a second, and what starts a probe when one is due.
func (g *governor) success(now time.Time, m sendMark) {
	if g.ceiling == rate.Inf {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !m.sentAt.Before(g.lastCut) {
		g.lastAccepted = now
	}
	if g.holding {
		if now.Before(g.probeAt) {
			return
		}
		g.holding, g.cap = false, g.ceiling // probe: climb above the remembered rate
		g.raises = 0
	}
	limit := g.lim.Limit()
	// Quiet is counted from the end of the pause: a paused client proves
	// nothing about the rate.
	quietSince := g.lastCut
	if g.pauseEnd.After(quietSince) {
		quietSince = g.pauseEnd
	}
	if limit >= g.cap || now.Sub(quietSince) < quietBeforeRaise || now.Sub(g.lastRaise) < time.Second {
		return
	}
	g.lastRaise = now
	g.raises++
	next := min(g.cap, limit*rate.Limit(1+min(maxStep, climbStep*float64(g.raises)))+0.01)
	g.lim.SetLimitAt(now, next)
	if next >= g.cap && g.cap < g.ceiling {
		g.holding = true // back at the remembered rate: hold until the probe is due
	}
}

// throttled lowers the rate after a 429 or 423 for the request marked m,
// which paused the client until pauseEnd. Only the first 429 of a spell
// cuts: the others answer requests sent before the cut took effect. And
// only the first of a burst: a 429 for a request sent before any request
// sent after the last cut was accepted belongs to that cut's burst.
func (g *governor) throttled(now, pauseEnd time.Time, m sendMark) {
	if g.ceiling == rate.Inf {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if pauseEnd.After(g.pauseEnd) {
		g.pauseEnd = pauseEnd
	}
	if m.spell != g.spell || m.n == 0 {
		return
	}
	// A new spell starts with the first send after the pause.
	defer func() {
		g.spell++
		g.spellStart, g.sentN = time.Time{}, 0
	}()
	if !g.lastCut.IsZero() && !(g.lastAccepted.After(g.lastCut) && m.sentAt.After(g.lastAccepted)) {
		return
	}
	limit := g.lim.Limit()
	target := limit * blindCut
	measuredRate, stretch, k := g.measure(m)
	measured := measuredRate > 0
	if measured {
		target = min(limit, measuredRate) * cutMargin
	}
	switch {
	case measured && stretch >= trustSpell && k >= trustRequests:
		g.known = measuredRate
		target = g.known * holdMargin
		g.holding, g.cap = true, target
		g.probeAt = now.Add(probeEvery)
	case g.known > 0 && g.known*holdMargin > target:
		// A rough cut under the remembered rate: climb back to it (a limit
		// that really went down shows itself by the next 429), and probe
		// no sooner than probeEvery from now: this 429 was news enough.
		g.holding, g.cap = false, g.known*holdMargin
		g.probeAt = now.Add(probeEvery)
	default:
		g.holding, g.cap = false, g.ceiling
	}
	g.lastCut, g.raises = now, 0
	g.lim.SetLimitAt(now, max(g.floor, min(target, g.ceiling)))
}

// measure estimates the server's rate from the 429 for the request marked
// m: the largest (k-b+0.5)/(t-t0) over the spell's last k sends before it
// (b the burst, t0 the k-th last send, t m's send), among stretches of at
// least minSpell. It returns 0 when no stretch qualifies, and the length
// and size of the stretch that gave the estimate. g.mu is held.
func (g *governor) measure(m sendMark) (rate.Limit, time.Duration, int) {
	at := g.spellStart.Add(m.at)
	burst := float64(g.lim.Burst())
	var (
		best    float64
		stretch time.Duration
		size    int
	)
	// Sends after m's may have overwritten the oldest of the ring.
	for k := 1; k < m.n && k < sendHistory-(g.sentN-m.n); k++ {
		t0 := g.sends[(m.n-k)%sendHistory]
		d := at.Sub(t0)
		if d < minSpell {
			continue
		}
		if r := (float64(k) - burst + 0.5) / d.Seconds(); r > best {
			best, stretch, size = r, d, k
		}
	}
	return rate.Limit(best), stretch, size
}

// limit is the rate in force.
func (g *governor) limit() rate.Limit { return g.lim.Limit() }
