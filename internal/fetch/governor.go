package fetch

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// governor adapts the limiter's rate to what Webex accepts. Webex publishes
// no limit and changes it without notice, so the configured rate is a
// ceiling, not a target: after a 429 the rate drops just below the rate
// Webex was accepting, and climbs back slowly while no 429 comes. Every 429
// costs a pause of at least a second for the whole client, so fewer of them
// is more throughput, not less.
//
// The accepted rate is measured from what was sent, not from what was
// answered: a 429 comes back at once while an accepted request's answer
// takes its latency, so counting answers under-measures the server. Time is
// cut into spells, each from the first request sent after a pause to the
// next 429. A 429 for the k-th request of a spell, sent t seconds into it,
// says the server took the k-1 before it: its bucket plus its rate over t.
type governor struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	ceiling rate.Limit
	floor   rate.Limit

	spell      int       // current spell number
	spellStart time.Time // first send of the spell; zero before it
	sentN      int       // requests sent in the spell
	pauseEnd   time.Time // sends before it belong to no spell

	lastCut   time.Time
	lastRaise time.Time
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
	quietBeforeRaise = 3 * time.Second
	// raiseStep is the relative increase per second of quiet: slow, so that
	// the rate stays below a fixed server limit for many seconds per 429.
	raiseStep = 0.005
	// blindCut is the cut when a spell is too short to measure.
	blindCut = 0.75
	// cutMargin is how far below the measured rate a cut lands; a cut takes
	// off at least 1-cutMargin.
	cutMargin = 0.97
	// minSpell is the shortest spell whose rate is trusted.
	minSpell = 100 * time.Millisecond
)

func newGovernor(lim *rate.Limiter) *governor {
	ceiling := lim.Limit()
	floor := min(ceiling, 0.05) // one request in 20 s at the least
	return &governor{lim: lim, ceiling: ceiling, floor: floor}
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
	return sendMark{spell: g.spell, n: g.sentN, at: now.Sub(g.spellStart), sentAt: now}
}

// success records an accepted request, marked m, and raises the rate after
// a quiet spell.
func (g *governor) success(now time.Time, m sendMark) {
	if g.ceiling == rate.Inf {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !m.sentAt.Before(g.lastCut) {
		g.lastAccepted = now
	}
	limit := g.lim.Limit()
	// Quiet is counted from the end of the pause: a paused client proves
	// nothing about the rate.
	quietSince := g.lastCut
	if g.pauseEnd.After(quietSince) {
		quietSince = g.pauseEnd
	}
	if limit >= g.ceiling || now.Sub(quietSince) < quietBeforeRaise || now.Sub(g.lastRaise) < time.Second {
		return
	}
	g.lastRaise = now
	g.lim.SetLimitAt(now, min(g.ceiling, limit*(1+raiseStep)+0.01))
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
	if accepted := float64(m.n-1) - float64(g.lim.Burst()) + 0.5; m.at >= minSpell && accepted > 0 {
		target = min(limit, rate.Limit(accepted/m.at.Seconds())) * cutMargin
	}
	g.lastCut = now
	g.lim.SetLimitAt(now, max(g.floor, target))
}

// limit is the rate in force.
func (g *governor) limit() rate.Limit { return g.lim.Limit() }
