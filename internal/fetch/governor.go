package fetch

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// governor paces the client under a limit it is never told. Webex publishes
// neither its rate limit nor the size of its bucket and changes both without
// notice, so the configured rate is a ceiling, not a target: the governor
// finds the rate the server accepts, holds just under it, and looks above it
// now and then in case it rose. Every 429 costs the whole client a
// Retry-After pause of a second or more, and against a strict server
// (bucket 1) that second is capacity lost for good; so fewer 429s is more
// throughput, and the governor's work is to learn the limit from as few as
// it can.
//
// # Learning the limit from what the server accepted
//
// The usual governors react to refusals alone. AIMD (TCP's additive
// increase, multiplicative decrease) cuts by a fixed factor at each and
// creeps back up: against a strict server it never settles, each climb
// ends in a refusal that costs a pause. AWS's adaptive retry mode measures
// the rate the client was sending at and cuts to 0.7 of it, then climbs on
// a cubic curve, fast and then slow towards that rate and fast again past
// it; Netflix's concurrency limits move by the ratio of a long-term to a
// short-term measurement. Both measure the client. What the server accepted
// says more: it is a direct measurement of the server's rate.
//
// So the governor keeps a record of the requests it sent (send time, and
// what came back) and fits it with a token bucket (bucketfit.go): for
// every bucket size, the rates at which such a bucket would have taken
// every request that was taken and refused every refusal. Accepted
// requests bound the rate from below, refusals from above; sizes whose
// bounds cross are not the server's. The answer is a range [lo, hi) of
// rates that explain everything the server did. Against a bursty server
// (a bucket of a pause's worth of tokens or more) it is the accepted rate
// between refusals, to a request either way; against a strict one, the
// spacing of the last accepted and the refused request, to the timing
// noise of the requests. A first run that begins at the ceiling bounds the
// bucket too: it held no more than the server accepted before its first
// refusal.
//
// # What the governor does
//
//   - Until the first 429 it sends at the configured rate, or at the rate
//     the previous run of its scope ended with (its starting rate), from
//     where it probes upwards. Without a starting rate it starts slowly,
//     as TCP does (see admit): one request in flight until the server
//     answered, one more for every request it took, a burst of one; the
//     configured burst once the window is wider than any client keeps
//     in flight.
//   - At a refusal (the first 429 of a burst; see below) it fits the
//     record. When the fit is informative (hi within informative×lo), it
//     holds at lo less margin if lo and hi are close, else half way (in
//     ratio), where holding tells the candidates apart: a small bucket
//     whose rate is lower refuses within a few requests, a server whose
//     rate is higher never does; while holding there it fits again every
//     refitEvery and moves up as the accepted requests raise lo. Against a
//     server whose smallest possible bucket is under three tokens, a
//     request that reached it a little early is refused, so it holds at lo
//     unless the bounds are wider than the timing noise.
//   - When the fit says little (the first refusal, or a server that took
//     no more than two requests), it cuts blind: to a quarter of the rate
//     refused after a refusal at once (the server took no more than two
//     requests; a 429 of an earlier request of the burst that comes back
//     after the first one heard counts: see earlier) or at the rate a blind
//     cut went to, else a half, and climbs back towards the rate refused
//     (the least the record refuses: after the slow start's second
//     round, one request a round trip), closing climbStep of the gap for
//     every request accepted at the rate in force, but rising by no more
//     than climbMax (or climbPerSecond over a request's time, at a few a
//     second): so that the refusal that ends the climb comes just above the limit and
//     bounds it to a few percent.
//   - Holding between wide bounds, it fits again every refitRequests
//     requests (refitMin to refitEvery), and never above the least rate
//     the last refusal's fit forbade: a stretch that starts at that
//     refusal has nothing to bound it from above.
//   - Two bursts in a row refused within their first earlyN requests
//     after pauses that refilled any bucket, at no more than the rate
//     decided before: the limit fell. The record before it, and the noise
//     it was read with, are set aside.
//   - After holding for probeEvery without a refusal it probes: the rate
//     rises by 1%, 2%, 4%... every probeStep, until a refusal says where the
//     limit is now. A limit that rose is found within minutes; one that
//     fell refuses at once, and the fit, which no longer explains the older
//     record, starts afresh from the refusal. A probe refused before the
//     record proved room above the rate it began at goes back to that
//     rate, held without a refusal for probeEvery, rather than half way
//     into bounds the probe's steps (and a bucket's tokens) widened.
//   - From the first 429 on, the client's own burst is one request, and no
//     two requests leave closer than (1-spacingSlack)/rate: after a pause
//     the client's bucket is full, and a burst would meet a strict server's
//     empty one; a request that left late must not be followed by one that
//     left on time. Nor one that reached the server late: the next leaves
//     as much later as the last one's round trip exceeded the least of
//     the recent ones (at least the time since it left less that least,
//     while its answer is not back; see lateness). On a busy machine one
//     request in a hundred reaches the server a few milliseconds late, and
//     a strict server refuses the next at any rate within a few percent of
//     its limit. The fit reads that lateness too (sendRec.late, the round
//     trip over the least, kept for every request taken): a refusal after
//     a late request came that much closer to it than the send times say,
//     and read by the send times alone it bounds the rate a few percent
//     under the limit, where the hold would then stay until a probe. And
//     the wait for the spacing ends on time (onTime, sleepOnTime): a Go
//     timer fires 0.7 ms late on average here, 1.7% of a request's time
//     at 25/s, which against a bucket of one is lost for good, and a
//     governor whose sends come that late converges a few percent under
//     the limit. Once the fit says every bucket that
//     explains the record holds roomyBucket tokens or more (and the wait
//     no longer needs to end on time), the spacing is half a request and
//     the burst as many requests as the smallest such bucket holds (and
//     as the lower bound of the rate: a pause of a second refills that
//     many), at least roomyBurst and at most the configured burst: an
//     early request finds a token, a late wake-up is caught up, and the
//     tokens a pause refilled are spent after it. The configured burst
//     returns when the rate is back at the ceiling.
//   - Against a server that may be strict (smallest bucket under three
//     tokens), the hold under the lower bound of a refusal's fit leaves
//     as much of the limit unused as the bounds are apart: several
//     percent when the fit's reading of the requests' timing is
//     creepNoise of a request's time or more (a millisecond at 15/s and
//     up: the fit cannot tell whether a request reached the server a
//     millisecond early or late), or when the bounds are wider than a
//     few margins (a bucket of 2-3 tokens at a few a second, whose
//     refits raise the lower bound by a fraction of a percent a
//     request). So from the hold the rate creeps up, creepStep every
//     creepEvery (alongside the refits), never to the last fit's upper
//     bound, until a refusal: that takes it two steps under the last
//     rate in force for a whole creepEvery (or to the fit's hold, if
//     higher), and no later creep comes within two steps of the least
//     rate refused while holding (creepCap, forgotten when the limit
//     fell). The creep measures what the fit cannot: the rate at which
//     the requests' real timing, on this machine and network, is
//     refused. At 25/s against a bucket of one it holds about 1% under
//     the limit, not 4-6%, for one more refusal.
//   - What the fits found of the bucket's size is kept (minBucket): a
//     stretch that begins at a refusal (the bucket empty) or a long
//     hold's latest requests cannot tell a large bucket from a small one,
//     and read as a strict server's it would hold far under the limit.
//     Every fit tries only buckets at least as large as the largest
//     smallest bucket an earlier one found, and forgets it when none
//     explains the record (the server changed) or the limit fell.
//
// # One burst of 429s, one decision
//
// Time is cut into spells, each from the first request sent after a pause
// to the next refusal. A 429 for a request sent in an earlier spell, or
// during a pause, answers a request that left before the client knew: it
// changes nothing, neither the rate nor the pause (when Retry-After is
// unusable, the fallback pause: see pauseGate.fallback). And a burst lasts
// until a request sent after it began is taken: a refusal after a pause,
// with none taken since the burst began (a Retry-After of 0 says nothing
// of when to come back), lengthens the next pause if it was the first
// request after it, and leaves the rate alone.
type governor struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	ceiling rate.Limit // the configured rate: never exceeded
	floor   rate.Limit
	burst   int // the configured burst

	// governing is set by the first 429, or a starting rate: burst one,
	// spacing.
	governing bool
	// starting: the slow start (see admit), until the first 429, a
	// starting rate, or a window of slowStartEnd; window is how many
	// requests may be in flight then, inflight how many are.
	starting bool
	window   int
	inflight int

	spell    int       // spells so far; a mark names its spell
	pauseEnd time.Time // sends before it belong to no spell
	// burstAt is when the request that began the last burst was sent;
	// acceptedSince, whether one sent after it was accepted since (the
	// next refusal then begins a new burst).
	burstAt       time.Time
	acceptedSince bool
	guessed       bool      // the pause in force is the client's guess, not the server's
	spellStart    time.Time // first send of the spell; zero before it
	sentN         int       // requests sent in the spell
	lastSend      time.Time // the last request sent, for spacing

	// record is what the client sent and what came back, from seq
	// recordFrom on; fitFrom is where the stretch the fit reads begins,
	// and fitStart what the server's bucket held there: a refusal, or the
	// run's first request (the server idle, its bucket full).
	record     []sendRec
	recordFrom int
	fitFrom    int
	fitStart   bucketStart
	// maxBucket bounds the server's bucket: the first spell, if it began
	// with the server idle and the client at its ceiling, emptied it.
	// minBucket bounds it from below: the largest of the smallest buckets
	// that explained a stretch of the record (a stretch that starts where
	// the last refusal left the bucket, or a long hold's latest requests,
	// knows less of it than the first spell did); 0 once none explains the
	// record with it (the server changed).
	maxBucket float64
	minBucket float64
	// slack is how far off its send time a request may have reached the
	// server, as the fit reads the record: fitSlack, doubled by every
	// refusal of a rate the last fit called safe (a request that left on
	// time reached a strict server early), halved after probeEvery
	// without one.
	slack time.Duration
	safe  rate.Limit // the rate held under the least the last fit allowed; 0: none
	// bound is the least rate the last refusal's fit forbade (0: none): a
	// refit, whose stretch starts at that refusal, does not go above it.
	bound float64
	// early: the last burst began within the first earlyN requests of its
	// spell; held, the rate that burst decided on.
	early bool
	held  rate.Limit
	// roomy: the last fit's smallest bucket holds roomyBucket tokens or
	// more (see roomySlack).
	roomy bool
	// lo is the last fit's lower bound (0: none), and smallest its
	// smallest bucket: a pause refills min(smallest, lo) tokens or more
	// (see setBurst).
	lo        rate.Limit
	smallest  float64
	calmSince time.Time

	// The round trips of the last accepted requests (rttN of them so
	// far), and of the last request sent (lastSeq): whether its answer is
	// back, and how much later than the least round trip it came.
	rtts         [32]time.Duration
	rttN         int
	lastSeq      int
	lastAnswered bool
	lastLate     time.Duration

	target    rate.Limit // where a climb goes
	climbing  bool       // towards target, after a blind cut
	wide      bool       // holding between bounds wider than margins: fit again at refitAt
	refitAt   time.Time
	probeAt   time.Time  // when holding turns into a probe
	probeN    int        // steps of the probe so far
	probeFrom rate.Limit // the rate the probe began at
	lastStep  time.Time  // the last step of a probe

	// creep: holding under the lower bound of a fit against a server
	// that may be strict, the rate rises by creepStep every creepEvery
	// (creepAt: the next step) until a refusal, which takes it a step
	// under proven, the last rate that was in force for a whole
	// creepEvery since the last refusal (setAt: when the rate in force
	// was set).
	creep   bool
	crept   bool // the rate in force is a step of the creep
	creepAt time.Time
	setAt   time.Time
	proven  rate.Limit
	// creepCap is the least rate refused while holding or creeping (0:
	// none): a creep stops two steps under it.
	creepCap rate.Limit

	// openN is the position in its spell of the request whose 429
	// opened the last burst (or of an earlier one of the same spell
	// refused, whose 429 came back later: see earlier); openBlind, that
	// the burst's decision was a blind cut.
	openN     int
	openBlind bool
}

// sendMark identifies a request within its spell and the record.
type sendMark struct {
	spell  int
	n      int // 1-based position in the spell; 0: sent during a pause
	seq    int // position in the record; -1: none
	sentAt time.Time
	rate   rate.Limit // the rate in force when it was sent
}

const (
	// margin is how far under the rate it settles on the governor holds.
	margin = 0.01
	// cutHalf is the blind cut: half the rate refused; cutQuarter, when
	// the server took no more than two requests before refusing.
	cutHalf    = 0.5
	cutQuarter = 0.25
	// informative: a fit whose bounds are within this ratio says where the
	// limit is; a wider one, only where it is not.
	informative = 4
	// quietBeforeClimb: the rate holds still this long after a pause.
	quietBeforeClimb = time.Second
	// climbStep is the share of the gap to its target a climb closes for
	// every request accepted at the rate in force.
	climbStep = 0.15
	// climbMax is the most a step of a climb rises by, or climbPerSecond
	// over the time a request takes at the rate, if more: fine steps,
	// that the refusal ending the climb bounds the limit closely, but not
	// slow ones at a few requests a second.
	climbMax       = 0.06
	climbPerSecond = 0.6
	// earlyN: a refusal within the first earlyN requests after a pause
	// is early (any bucket had a pause's worth of tokens).
	earlyN = 2
	// Holding between wide bounds, the record is fitted again every
	// refitRequests requests, but no sooner than refitMin and no later
	// than refitEvery.
	refitEvery    = 3 * time.Second
	refitMin      = 300 * time.Millisecond
	refitRequests = 2
	// probeEvery is how long the rate holds before a probe (probeSoon
	// after a probe that found the limit risen), and probeStep how long
	// each step of a probe lasts.
	probeEvery = 2 * time.Minute
	probeSoon  = 15 * time.Second
	probeStep  = 5 * time.Second
	// spacingSlack: while governing, no two requests leave closer than
	// (1-spacingSlack)/rate; the slack lets a late one be caught up.
	spacingSlack = margin / 2
	// roomySlack is the spacing's slack, and roomyBurst the client's
	// burst, against a server whose every bucket that explains the record
	// holds roomyBucket tokens or more: a request sent early finds one
	// all the same, so one that left late is caught up at once.
	roomySlack = 0.5
	// rttMin is how many round trips the least of them needs; maxLate
	// bounds how late the last request is taken to be.
	rttMin  = 8
	maxLate = 50 * time.Millisecond
	// steadyRTT: the answers are steady (steadyAnswers) when half the
	// recent round trips are within it of the least: a server's own
	// timer wakes a millisecond or two late (the simulator's, on a busy
	// machine), a latency that varies by tens of milliseconds is the
	// server's, not the way there.
	steadyRTT   = 5 * time.Millisecond
	roomyBurst  = 2
	roomyBucket = 2
	// recordSize bounds the record; fitBursts, the refusals a fit reaches
	// back over (older ones may describe a limit that has moved).
	recordSize = 4096
	fitBursts  = 6
	// creepStep and creepEvery: the creep's steps (see governor.creep).
	// creepNoise: it creeps when the fit's reading of the requests'
	// timing (slack) is this share of a request's time or more (25/s
	// with a millisecond of slack: 2.5%), so that the fit's bounds are
	// too wide to hold within a point of the limit, or the bounds are not
	// narrow; when they are, the fit alone is close enough, and a creep
	// would only add a refusal.
	creepStep  = 0.005
	creepEvery = 2 * time.Second
	creepNoise = 0.015
	// maxFit bounds the requests one fit reads, for its cost (a few
	// milliseconds).
	maxFit = 1024
	// The slow start (see admit) ends at a window of slowStartEnd
	// requests in flight; a request held back by it tries again after
	// slowStartPoll.
	slowStartEnd  = 64
	slowStartPoll = time.Millisecond
)

// newGovernor governs lim, whose rate and burst are the configured ceiling,
// from now on: in its slow start (see admit) the client's burst is one.
func newGovernor(lim *rate.Limiter, now time.Time) *governor {
	ceiling := lim.Limit()
	g := &governor{lim: lim, ceiling: ceiling, floor: min(ceiling, 0.05), burst: lim.Burst(),
		fitStart: startFull, maxBucket: math.Inf(1), target: ceiling, slack: fitSlack,
		starting: ceiling != rate.Inf, window: 1}
	if g.starting {
		lim.SetBurstAt(now, 1)
	}
	return g
}

// newGovernorAt is newGovernor resumed at start (see resume) at now; a
// start of 0 is none.
func newGovernorAt(lim *rate.Limiter, start rate.Limit, now time.Time) *governor {
	g := newGovernor(lim, now)
	g.resume(now, start)
	return g
}

// resume makes start, the rate a previous run ended with, the rate the
// governor begins at, if it is below the ceiling and nothing was sent yet:
// it governs from then on, and probes upwards at once, since the limit may
// have risen. It reports whether it did.
func (g *governor) resume(now time.Time, start rate.Limit) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.off() || !(start > 0) || !g.lastSend.IsZero() {
		return false
	}
	if start >= g.ceiling {
		// The previous run was never refused: no slow start either.
		g.endStart(now)
		return false
	}
	g.governing, g.starting = true, false
	g.lim.SetBurstAt(now, 1)
	g.set(now, max(start, g.floor))
	g.probeAt = now.Add(probeStep)
	return true
}

// endStart ends the slow start of a run that met no 429: the configured
// burst returns. g.mu is held.
func (g *governor) endStart(now time.Time) {
	if g.starting {
		g.starting = false
		g.lim.SetBurstAt(now, g.burst)
	}
}

// off reports whether there is nothing to govern: no rate limit at all.
func (g *governor) off() bool { return g.ceiling == rate.Inf }

// admit records a request about to be sent at now and returns its mark, or
// how long to wait first: while governing, no two requests leave closer
// than the spacing.
//
// Before the first 429 of a run without a starting rate, the governor
// knows nothing of the server, and every request in flight when a 429
// comes back earns one too: at 10x a strict server's limit, the
// configured burst and the requests after it put five to seven 429s into
// the first few milliseconds, more than the first 30 s may take. So it
// starts as TCP does: one request in flight until the server has
// answered, and one more for every request it took (the window doubles
// with every round trip), until the first 429 or until the window is
// slowStartEnd (more than any client keeps in flight at these rates).
// Meanwhile its own burst is one, and its requests leave 1/ceiling apart
// (the spacing, as when governing: a request held back by the window
// must not be followed at once by one that took the limiter's next
// token meanwhile): a round's requests leaving together would be
// refused together.
// Against a strict server the first 429 then comes in the second round
// trip, with two requests in flight; and its fit reads the gap of a
// round trip between the accepted first request and the refused second,
// not the microseconds between the requests of a burst. A server that
// takes everything costs a few round trips at the start.
func (g *governor) admit(now time.Time) (sendMark, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.starting && g.inflight >= g.window {
		return sendMark{}, slowStartPoll
	}
	r := g.lim.Limit()
	if (g.governing || g.starting) && !g.lastSend.IsZero() {
		slack := spacingSlack
		if g.roomy {
			slack = roomySlack
		}
		gap := time.Duration((1 - slack) / float64(r) * float64(time.Second))
		if wait := g.lastSend.Add(g.lateness(now) + gap).Sub(now); wait > 0 {
			return sendMark{}, wait
		}
	}
	g.lastSend = now
	g.lastAnswered, g.lastLate = false, 0
	g.inflight++
	m := sendMark{spell: g.spell, seq: -1, sentAt: now, rate: r}
	if !g.off() {
		if len(g.record) == recordSize {
			drop := recordSize / 4
			g.record = append(g.record[:0], g.record[drop:]...)
			g.recordFrom += drop
			if g.fitFrom < g.recordFrom {
				g.fitFrom, g.fitStart = g.recordFrom, startRefused
				g.seekBurst()
			}
		}
		m.seq = g.recordFrom + len(g.record)
		g.record = append(g.record, sendRec{at: now})
	}
	g.lastSeq = m.seq
	if now.Before(g.pauseEnd) {
		return m, 0
	}
	if g.spellStart.IsZero() {
		g.spellStart = now
	}
	g.sentN++
	m.n = g.sentN
	return m, 0
}

// onTime says whether the wait admit asked for must end on time (see
// sleepOnTime): the client is governing, and the server's bucket may hold
// a single token, so that a request that leaves late loses its lateness
// for good. Against a roomy server an early or late request is caught up
// by the bucket, and before the first 429 the wait is the configured
// rate's, which nothing measured yet.
func (g *governor) onTime() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.governing && !g.roomy
}

// unanswered records that a request ended without an answer (a
// connection error, a timeout, or it was never sent): it is no longer in
// flight, and says nothing of the server, so its mark is not read.
func (g *governor) unanswered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.landed()
}

// landed counts a request no longer in flight. g.mu is held.
func (g *governor) landed() {
	if g.inflight > 0 {
		g.inflight--
	}
}

// recordIndex is where the request marked m is in the record; false if it
// is not there (sent unrecorded, or trimmed since). g.mu is held.
func (g *governor) recordIndex(m sendMark) (int, bool) {
	i := m.seq - g.recordFrom
	return i, m.seq >= 0 && i >= 0 && i < len(g.record)
}

// answered records what became of the request marked m. g.mu is held.
func (g *governor) answered(m sendMark, out sendOutcome) {
	if i, ok := g.recordIndex(m); ok {
		g.record[i].out = out
	}
}

// seekBurst moves fitFrom forward to the next refusal that opened a burst,
// or, when there is none, to the end of the record, where the server's
// bucket may have held anything. g.mu is held.
func (g *governor) seekBurst() {
	for i := g.fitFrom - g.recordFrom; i < len(g.record); i++ {
		if g.record[i].out == outBurst {
			g.fitFrom, g.fitStart = g.recordFrom+i, startRefused
			return
		}
	}
	g.fitFrom, g.fitStart = g.recordFrom+len(g.record), startUnknown
}

// accepted records an accepted request, at now: it moves a climb on, and
// a refit or a probe when one is due.
func (g *governor) accepted(now time.Time, m sendMark) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.landed()
	if m.sentAt.After(g.burstAt) {
		g.acceptedSince = true
	}
	if g.off() {
		return
	}
	if g.starting {
		// The slow start: one more in flight for every request taken.
		if g.window++; g.window >= slowStartEnd {
			g.endStart(now)
		}
	}
	g.answered(m, outAccepted)
	if !g.governing {
		return
	}
	g.answeredAt(now, m, true)
	if now.Before(g.pauseEnd.Add(quietBeforeClimb)) {
		return
	}
	r := g.lim.Limit()
	if g.slack > fitSlack && now.Sub(g.calmSince) >= probeEvery {
		g.slack, g.calmSince = max(fitSlack, g.slack/2), now
	}
	switch {
	case g.climbing:
		// A step for every request accepted at the rate in force: a share
		// of the gap to the target.
		if m.rate < r {
			return
		}
		next := min(g.target-(g.target-r)*(1-climbStep), r*rate.Limit(1+max(climbMax, climbPerSecond/float64(r))))
		if g.target-next < g.target*0.001 {
			next, g.climbing = g.target, false
			g.probeAt = now.Add(probeEvery)
		}
		g.set(now, next)
	case g.wide && !now.Before(g.refitAt):
		g.refit(now)
	case g.creep && !now.Before(g.creepAt):
		next := min(g.ceiling, r*(1+creepStep))
		if r >= g.ceiling || (g.bound > 0 && float64(next) >= g.bound*(1-margin)) || (g.creepCap > 0 && next*(1+creepStep) >= g.creepCap) {
			g.creep = false
			return
		}
		g.creepAt = now.Add(creepEvery)
		g.set(now, next)
		g.crept = true
	case !now.Before(g.probeAt) && r < g.ceiling && now.Sub(g.lastStep) >= probeStep:
		// A probe: the rate rises by 1%, 2%, 4%... every probeStep, until
		// a refusal says where the limit is now.
		if g.probeN == 0 {
			g.probeFrom = r
		}
		g.probeN++
		g.lastStep = now
		g.set(now, min(g.ceiling, r*rate.Limit(1+0.01*math.Pow(2, float64(min(g.probeN-1, 6))))))
	}
}

// refusal is what the governor made of a 429: whether it opened a pause
// (it answers the first request of its spell to be refused: the 429s of
// requests that left before it came back, or during a pause, do not),
// whether it began a new burst (a request sent since the last burst began
// was accepted: the rate is decided again), and the range of rates the
// server's answers so far allow (0, 0 when they say little).
type refusal struct {
	pause, burst bool
	lo, hi       rate.Limit
}

// refused records a 429 (or 423) for the request marked m, at now; guessed
// says the pause before it was the client's guess (Retry-After was
// unusable). The caller then pauses the client (and tells the governor
// until when, with paused).
func (g *governor) refused(now time.Time, m sendMark, guessed bool) refusal {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.landed()
	g.starting = false
	g.answeredAt(now, m, false)
	if m.spell != g.spell || m.n == 0 {
		g.answered(m, outRefused)
		if m.spell == g.spell-1 && m.n > 0 && m.n < g.openN {
			g.earlier(now, m)
		}
		return refusal{}
	}
	g.answered(m, outBurst)
	// A blind cut refused at the rate it cut to, before the climb moved
	// it: the limit is further below than a half.
	recut := g.openBlind && m.rate <= g.held*(1+margin)
	g.openN, g.openBlind = m.n, false
	defer func() {
		g.spell++
		g.spellStart, g.sentN = time.Time{}, 0
	}()
	if !g.burstAt.IsZero() && !g.acceptedSince && (m.n == 1 || g.guessed) {
		// Nothing sent since the burst began was taken: the first request
		// after the pause was refused, or, after a pause the client
		// guessed (a Retry-After of 0, say), any: the same burst, and the
		// pause was too short. (After a pause the server set, a later
		// request of the spell refused means the ones before it were
		// taken, whether their answers are back yet or not.)
		g.guessed = guessed
		return refusal{pause: true}
	}
	g.guessed = guessed
	g.burstAt, g.acceptedSince = m.sentAt, false
	if g.off() {
		return refusal{pause: true, burst: true}
	}
	if !g.governing {
		g.governing = true
		g.lim.SetBurstAt(now, 1)
	}
	x := m.rate
	early := m.n <= earlyN
	fell := early && g.early && x <= g.held*(1+margin)
	g.early = early
	if fell {
		// Two bursts in a row refused within their first requests, after
		// pauses that refilled any bucket, at a rate no higher than the
		// last: the limit fell. What the record says of the old one, and
		// the timing noise it was read with, no longer apply.
		g.fitFrom, g.fitStart = m.seq, startRefused
		g.slack, g.safe, g.minBucket = fitSlack, 0, 0
	}
	if g.safe > 0 && x <= g.safe && !g.climbing && g.probeN == 0 && !early {
		// Refused while holding at a rate the record said was safe: the
		// requests reach the server less evenly than the fit assumed.
		g.slack = min(2*g.slack, maxFitSlack)
		g.calmSince = now
	}
	if g.fitStart == startFull && g.recordFrom == 0 && g.spell == 0 && x >= g.ceiling {
		// The first refusal of a run that began at its ceiling: the
		// bucket the server had full held no more than it accepted.
		g.maxBucket = float64(m.n)
	}
	f := g.fit(m)
	if f.ok && g.bound > 0 && f.hi > g.bound && f.lo < g.bound && float64(x) <= g.bound {
		// A fit from a later stretch knows nothing of the bound an
		// earlier refusal set, and a refusal below it says the limit did
		// not rise above it.
		f.hi = g.bound
	}
	var next, climb rate.Limit
	g.safe = 0
	switch {
	case f.ok && f.hi <= f.lo*informative:
		next = g.holdRate(f)
		if next <= rate.Limit(f.lo) {
			g.safe = next
		}
	default:
		// The record says only where the limit is not: cut blind, and
		// climb back towards the rate refused (or what the record allows).
		// The rate refused is the least the record refuses: requests
		// that left together at a high rate say the limit is under
		// that rate, but an accepted one and the refused one a round
		// trip after it (the slow start's second round) that it is
		// under one a round trip.
		cut := rate.Limit(cutHalf)
		if m.n <= 3 || recut {
			cut = cutQuarter
		}
		refusedAt := x
		if f.ok {
			refusedAt = min(x, rate.Limit(f.hi))
		}
		next, climb = refusedAt*cut, refusedAt*(1-margin)
		if f.ok {
			next = max(next, rate.Limit(f.lo)*(1-margin))
		}
		g.openBlind = next == refusedAt*cut
	}
	if g.probeN > 0 && f.ok && f.lo <= float64(g.probeFrom)*(1+margin) {
		// A probe refused before the record proved any room above the
		// rate it began at: that rate was held without a refusal, and
		// the limit is under the probe's last step. Back to it, rather
		// than half way into bounds that a bucket's tokens widened.
		next, climb = g.probeFrom, 0
	}
	creeping := g.creep && g.crept && g.proven > 0
	if fell {
		g.creepCap = 0
	} else if !g.climbing && g.probeN == 0 && !early && (g.creepCap == 0 || x < g.creepCap) {
		g.creepCap = x
	}
	if creeping && f.ok && g.proven < x && float64(g.proven) < f.hi*(1-margin) && !fell {
		// Refused on a step of the creep: a step under the last rate
		// held for a step's time (the refusal may have come of noise
		// that the rate a step above it meets too), or the fit's hold,
		// if higher.
		next, climb = max(next, g.proven/(1+creepStep)), 0
	}
	next = max(g.floor, min(next, g.ceiling))
	g.set(now, next)
	g.setAt = now
	g.held = next
	g.climbing = climb > next*(1+margin)
	g.target = max(next, min(climb, g.ceiling))
	g.wide, g.refitAt = f.ok && !g.climbing && !f.narrow(), now.Add(refitDelay(next))
	g.probeAt = now.Add(probeEvery)
	if g.probeN > 0 && next > g.probeFrom*(1+5*margin) {
		// The probe found room: the limit rose, maybe further.
		g.probeAt = now.Add(probeSoon)
	}
	g.probeN, g.lastStep = 0, time.Time{}
	g.creep = f.ok && !f.roomy() && (f.lo*g.slack.Seconds() >= creepNoise || !f.narrow()) && !g.climbing && next < g.ceiling
	g.creepAt, g.proven = now.Add(creepEvery), 0
	g.bound, g.lo, g.smallest = 0, 0, 0
	if f.ok {
		g.bound, g.lo, g.smallest = f.hi, rate.Limit(f.lo), f.smallest
	}
	g.setRoomy(now, f.ok && f.smallest >= roomyBucket)
	r := refusal{pause: true, burst: true}
	if f.ok && f.hi <= f.lo*informative {
		r.lo, r.hi = rate.Limit(f.lo), rate.Limit(f.hi)
	}
	return r
}

// earlier takes in a 429 of a request sent before the one that opened the
// last burst, in the same spell, that came back later than it (the
// answers of requests in flight together race to the governor): the
// server took fewer requests before refusing than the burst's decision
// assumed. A blind cut that took the server for one that took three or
// more is made as deep as for one that took fewer, and the burst counts
// as early if this request was. (What the fit made of the bucket is left
// alone: requests also reach the server in another order than they were
// admitted in, and a first request that reached it after the fourth may
// be refused by a bucket of three.) g.mu is held.
func (g *governor) earlier(now time.Time, m sendMark) {
	g.openN = m.n
	if m.n <= earlyN {
		g.early = true
	}
	if g.openBlind && m.n <= 3 && g.climbing {
		if next := max(g.floor, m.rate*cutQuarter); next < g.lim.Limit() {
			g.set(now, next)
			g.held = next
		}
		g.openBlind = false
	}
}

// setRoomy says whether the server's bucket holds roomyBucket tokens or
// more, and sets the client's burst and spacing for it. g.mu is held.
func (g *governor) setRoomy(now time.Time, roomy bool) {
	g.roomy = roomy
	g.setBurst(now)
}

// setBurst sets the client's burst for the server's shape: one against a
// server whose bucket may be a single token; against a roomy one, as many
// requests as its smallest bucket holds, at least roomyBurst: a pause
// refills at least that many (a pause is a second or more, and the
// bucket's rate at least lo), which the client then spends. g.mu is held.
func (g *governor) setBurst(now time.Time) {
	if !g.governing {
		return
	}
	b := 1
	if g.roomy {
		b = max(roomyBurst, int(min(g.smallest, float64(g.lo))))
	}
	if b = min(b, g.burst); g.lim.Burst() != b {
		g.lim.SetBurstAt(now, b)
	}
}

// answeredAt notes when the request marked m was answered: an accepted
// one's round trip, for the least of the recent ones, and how much later
// than the least it reached the server (an estimate: a late answer may
// have been late on its way back too), for the spacing if it is the last
// request sent, and in the record, for the fit, while the answers are
// steady (steadyAnswers). A refusal says nothing of its timing (a 429
// comes back before the server's latency). g.mu is held.
func (g *governor) answeredAt(now time.Time, m sendMark, accepted bool) {
	var rtt time.Duration
	if accepted {
		rtt = now.Sub(m.sentAt)
		g.rtts[g.rttN%len(g.rtts)] = rtt
		g.rttN++
	}
	if least, ok := g.leastRTT(); ok && accepted {
		if i, ok := g.recordIndex(m); ok && g.steadyAnswers(least) {
			g.record[i].late = min(rtt-least, maxLate)
		}
		if m.seq >= 0 && m.seq == g.lastSeq {
			g.lastLate = rtt - least
		}
	}
	if m.seq >= 0 && m.seq == g.lastSeq {
		g.lastAnswered = true
	}
}

// steadyAnswers reports whether the recent round trips are steady enough
// for one over the least to say that its request reached the server late:
// half of them within steadyRTT of the least. A server whose own latency
// varies more (the pacing scenario's 100-300 ms, or a real API's) makes
// every round trip "late", by its time to answer, not by the way there,
// and the fit reads its refusals by the send times alone. g.mu is held.
func (g *governor) steadyAnswers(least time.Duration) bool {
	n := min(g.rttN, len(g.rtts))
	within := 0
	for _, d := range g.rtts[:n] {
		if d-least <= steadyRTT {
			within++
		}
	}
	return 2*within >= n
}

// leastRTT is the least round trip of the last len(g.rtts) accepted
// requests, once there are rttMin of them. g.mu is held.
func (g *governor) leastRTT() (time.Duration, bool) {
	if g.rttN < rttMin {
		return 0, false
	}
	least := time.Duration(math.MaxInt64)
	for _, d := range g.rtts[:min(g.rttN, len(g.rtts))] {
		least = min(least, d)
	}
	return least, true
}

// lateness is how much later than its send time the last request sent
// is taken to have reached the server, against a server whose bucket may
// be a single token: the next request leaves that much later, so that the
// two reach it no closer than the spacing (a request that reached it
// early is refused, at any rate near its limit). The last request's
// answer says it: its round trip above the least. Until the answer is
// back, the request is at least as late as the time since it left less
// the least round trip; at most maxLate. g.mu is held.
func (g *governor) lateness(now time.Time) time.Duration {
	if g.roomy {
		return 0
	}
	least, ok := g.leastRTT()
	if !ok {
		return 0
	}
	late := g.lastLate
	if !g.lastAnswered {
		late = max(0, now.Sub(g.lastSend)-least)
	}
	return min(late, maxLate)
}

// refitDelay is how long a hold at r between wide bounds lasts before the
// record is fitted again: refitRequests requests at r, within
// [refitMin, refitEvery].
func refitDelay(r rate.Limit) time.Duration {
	d := time.Duration(refitRequests / float64(r) * float64(time.Second))
	return min(refitEvery, max(refitMin, d))
}

// holdRate is the rate to hold at, given a fit: under its lower bound when
// the bounds are close, else half way (in ratio). A server whose smallest
// possible bucket is under three tokens refuses a request that reached it
// a little early, so against one the bounds count as close as long as the
// requests' timing noise accounts for their distance. Against a roomy one
// it holds 3% under the upper bound: the lower bound of a big bucket says
// little (its stock hid the rate), and the upper one errs high by what the
// bucket and the latency hid (25.5-25.6/s for a server of 25/s with a
// bucket of 5 and 100-300 ms of latency; 2% under it was over the limit).
// g.mu is held.
func (g *governor) holdRate(f fit) rate.Limit {
	switch {
	case f.narrow():
		// Close to the lower bound: a refusal's upper one errs high by
		// what a bucket hid, and a rate above the limit is refused again
		// once the bucket is spent.
		return rate.Limit(max(f.lo*(1-margin/2), min(f.hi*(1-2*margin), f.lo*(1+margin))))
	case f.roomy():
		return rate.Limit(f.hi) * (1 - 3*margin)
	case f.hi <= f.lo*(1+4*margin+4*f.lo*g.slack.Seconds()):
		return rate.Limit(f.lo) * (1 - margin)
	default:
		return rate.Limit(math.Sqrt(f.lo*f.hi)) * (1 - margin)
	}
}

// refit fits the record again while holding between wide bounds: the
// requests accepted since raise the lower one, and the rate follows. g.mu
// is held.
func (g *governor) refit(now time.Time) {
	g.refitAt = now.Add(refitDelay(g.lim.Limit()))
	end := len(g.record) - 1
	for end >= 0 && g.record[end].out == outPending {
		end--
	}
	from := g.fitFrom - g.recordFrom
	if from < 0 || end <= from {
		return
	}
	if end-from > maxFit {
		// Held long enough: what the requests since say no longer moves
		// the bounds much, and reading them costs more.
		g.wide = false
		return
	}
	f := g.fitRecord(g.record[from:end+1], g.fitStart)
	if !f.ok {
		return
	}
	if g.bound > 0 && f.hi > g.bound {
		// A stretch that begins at the last refusal has no refusal after
		// it to bound the rate from above: the bound the refusal's own
		// fit found holds until a probe looks above it.
		f.hi = max(f.lo, g.bound)
	}
	g.wide = !f.narrow()
	g.lo, g.smallest = rate.Limit(f.lo), f.smallest
	g.setRoomy(now, f.smallest >= roomyBucket)
	if next := max(g.floor, min(g.holdRate(f), g.ceiling)); next > g.lim.Limit() {
		g.set(now, next)
		g.safe = 0
		if next <= rate.Limit(f.lo) {
			g.safe = next
		}
	}
}

// fit fits the record up to m, a refusal that opened a burst, from the
// earliest stretch a token bucket explains: the whole of it since fitFrom
// (at most fitBursts refusals back), else from a later refusal. It moves
// fitFrom there; when nothing before m explains it (the limit moved), to
// m. g.mu is held.
func (g *governor) fit(m sendMark) fit {
	end, ok := g.recordIndex(m)
	if !ok {
		return fit{}
	}
	// Requests sent after m left before the client knew: the server
	// refused them (it was pausing), whatever their answers say later.
	for i := end + 1; i < len(g.record); i++ {
		g.record[i].out = outRefused
	}
	var heads []int // the refusals before m that opened a burst, latest first
	for i := end - 1; i >= 0 && i >= g.fitFrom-g.recordFrom; i-- {
		if g.record[i].out == outBurst {
			heads = append(heads, i)
		}
	}
	if len(heads) > fitBursts {
		g.fitFrom, g.fitStart = g.recordFrom+heads[fitBursts-1], startRefused
		heads = heads[:fitBursts]
	}
	type stretch struct {
		from  int
		start bucketStart
	}
	var stretches []stretch
	if from := g.fitFrom - g.recordFrom; end-from <= maxFit {
		stretches = append(stretches, stretch{from, g.fitStart})
	}
	for i := len(heads) - 1; i >= 0; i-- {
		if heads[i] > g.fitFrom-g.recordFrom && end-heads[i] <= maxFit {
			stretches = append(stretches, stretch{heads[i], startRefused})
		}
	}
	if len(stretches) == 0 {
		// A long hold since the last refusal: its latest requests, from a
		// bucket that may have held anything.
		stretches = append(stretches, stretch{end - maxFit, startUnknown})
	}
	for _, s := range stretches {
		f := g.fitRecord(g.record[s.from:end+1], s.start)
		if f.ok {
			g.fitFrom, g.fitStart = g.recordFrom+s.from, s.start
			if s.start == startUnknown {
				// The next fits start from this refusal.
				g.fitFrom, g.fitStart = m.seq, startRefused
			}
			return f
		}
	}
	g.fitFrom, g.fitStart = m.seq, startRefused
	return fit{}
}

// fitRecord fits recs with the governor's slack, rates and bounds of the
// bucket; when no bucket of minBucket or more explains them, with any
// (and minBucket is forgotten). It raises minBucket to what the fit
// found. g.mu is held.
func (g *governor) fitRecord(recs []sendRec, start bucketStart) fit {
	floor, ceil := float64(g.floor), float64(g.ceiling)*2
	f := fitRecordIn(recs, start, g.slack, floor, ceil, g.minBucket, g.maxBucket)
	if !f.ok && g.minBucket > 0 {
		g.minBucket = 0
		f = fitRecordIn(recs, start, g.slack, floor, ceil, 0, g.maxBucket)
	}
	if f.ok {
		g.minBucket = max(g.minBucket, f.smallest)
	}
	return f
}

// paused records the end of the pause in force: requests sent before it
// belong to no spell.
func (g *governor) paused(end time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if end.After(g.pauseEnd) {
		g.pauseEnd = end
	}
}

// set puts rate r in force at now; the configured burst returns when the
// rate is back at the ceiling. g.mu is held.
func (g *governor) set(now time.Time, r rate.Limit) {
	g.crept = false
	if old := g.lim.Limit(); r != old {
		if r > old && now.Sub(g.setAt) >= creepEvery {
			g.proven = old
		}
		g.setAt = now
	}
	g.lim.SetLimitAt(now, r)
	if r >= g.ceiling && g.governing {
		g.governing = false
		g.lim.SetBurstAt(now, g.burst)
	}
	g.setBurst(now)
}

// limit is the rate in force.
func (g *governor) limit() rate.Limit { return g.lim.Limit() }

// pace is the rate in force, and whether the governor set it (a 429 or
// resume moved it off the ceiling).
func (g *governor) pace() (rate.Limit, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lim.Limit(), g.governing
}
