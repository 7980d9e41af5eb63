package fetch

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// governor adapts the limiter's rate to what Webex accepts. Webex publishes
// no limit and changes it without notice, so the configured rate is a
// ceiling, not a target: after a 429 the rate drops below the rate Webex was
// accepting, and climbs back slowly while no 429 comes. Every 429 costs a
// pause of at least a second for the whole client, so fewer of them is more
// throughput, not less.
type governor struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	ceiling rate.Limit
	floor   rate.Limit

	// Acceptance is measured over the time the client was sending: from
	// the first success after the last pause (not before: idle time before
	// a run, or answers to requests sent before the pause, say nothing of
	// the server's rate) to the next 429.
	pauseEnd    time.Time
	activeSince time.Time // zero until the first success after pauseEnd
	accepted    int

	lastCut   time.Time
	lastRaise time.Time
}

const (
	// quietBeforeRaise is how long after a cut's pause the rate holds still.
	quietBeforeRaise = 3 * time.Second
	// raiseStep is the relative increase per second of quiet: slow, so that
	// the rate stays below a fixed server limit for many seconds per 429.
	raiseStep = 0.005
	// cutStep is the least a cut takes off, and blindCut what it takes when
	// there is too little to measure.
	cutStep  = 0.9
	blindCut = 0.75
	// cutMargin is how far below the measured accepted rate a cut lands.
	cutMargin = 0.95
	// minMeasure is the shortest sending spell whose acceptance rate is
	// trusted: over shorter ones the server's burst inflates it.
	minMeasure = time.Second
)

func newGovernor(lim *rate.Limiter) *governor {
	ceiling := lim.Limit()
	floor := min(ceiling, 0.05) // one request in 20 s at the least
	return &governor{lim: lim, ceiling: ceiling, floor: floor}
}

// success records an accepted request and raises the rate after a quiet
// spell.
func (g *governor) success(now time.Time) {
	if g.ceiling == rate.Inf {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !now.Before(g.pauseEnd) {
		if g.activeSince.IsZero() {
			g.activeSince = now
		}
		g.accepted++
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

// throttled lowers the rate after a 429 or 423 that paused the client until
// pauseEnd. It cuts once per second at most, since the answers to requests
// already in flight say nothing new.
func (g *governor) throttled(now, pauseEnd time.Time) {
	if g.ceiling == rate.Inf {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var measured time.Duration
	if !g.activeSince.IsZero() {
		measured = now.Sub(g.activeSince)
	}
	accepted := g.accepted
	if pauseEnd.After(g.pauseEnd) {
		g.pauseEnd, g.activeSince, g.accepted = pauseEnd, time.Time{}, 0
	}
	if now.Sub(g.lastCut) < time.Second {
		return
	}
	g.lastCut = now
	limit := g.lim.Limit()
	target := limit * blindCut
	if measured >= minMeasure && accepted >= 10 {
		target = min(limit*cutStep, rate.Limit(float64(accepted)/measured.Seconds())*cutMargin)
	}
	g.lim.SetLimitAt(now, max(g.floor, target))
}

// limit is the rate in force.
func (g *governor) limit() rate.Limit { return g.lim.Limit() }
