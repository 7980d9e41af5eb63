package fetch

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"golang.org/x/time/rate"
)

// pacingServer is a token bucket of rate limit(t) and size bucket, as
// webexsim keeps one: a refused token stays paused until its next token,
// and a 429 says Retry-After: the whole seconds until then, at least one.
type pacingServer struct {
	limit  func(t time.Duration) float64
	bucket float64

	tokens      float64
	last        time.Duration
	pausedUntil time.Duration
	started     bool
	// history is the bucket after every request, for tokensAt.
	history []bucketAt
}

type bucketAt struct {
	t      time.Duration
	tokens float64
}

// tokensAt is what the bucket held at t (server time), refilled from the
// last request before it at the rate then.
func (s *pacingServer) tokensAt(t time.Duration) float64 {
	i := sort.Search(len(s.history), func(i int) bool { return s.history[i].t > t })
	if i == 0 {
		return s.bucket
	}
	h := s.history[i-1]
	return math.Min(s.bucket, h.tokens+s.limit(t)*(t-h.t).Seconds())
}

func (s *pacingServer) allow(t time.Duration) (bool, time.Duration) {
	if !s.started {
		s.started, s.tokens, s.last = true, s.bucket, t
	}
	if t < s.pausedUntil {
		return false, s.pausedUntil - t
	}
	L := s.limit(t)
	s.tokens = math.Min(s.bucket, s.tokens+L*(t-s.last).Seconds())
	s.last = t
	defer func() { s.history = append(s.history, bucketAt{t, s.tokens}) }()
	if s.tokens >= 1 {
		s.tokens--
		return true, 0
	}
	wait := time.Duration((1 - s.tokens) / L * float64(time.Second))
	s.pausedUntil = t + wait
	return false, wait
}

// pacingRun is one simulated run: a client of the given rate and burst,
// with workers and everything the real client does between a worker and
// the wire (the pause, the limiter, the governor's spacing), against a
// pacingServer; every wait wakes a little late, as goroutines on a busy
// machine do.
type pacingRun struct {
	clientRate  float64
	clientBurst int
	start       float64 // the stored starting rate; 0: none
	workers     int
	latency     time.Duration // of an accepted answer; a 429 comes back at once
	jitter      time.Duration // uniform extra latency [0, jitter) of an accepted answer
	// retryAfter turns the server's wait, at now, into the pause the
	// client takes, as ParseRetryAfter reads the header; !ok is a header
	// missing or unusable (the client's fallback pause). nil is whole
	// seconds, at least one (webexsim's default form).
	retryAfter func(wait, now time.Duration) (time.Duration, bool)
	seed       uint64
	// late draws how late a wait ends, and netDelay how long a request
	// takes to reach the server; nil: the defaults below.
	late, netDelay func(r *rand.Rand) time.Duration
	trace          bool // print every decision, for tuning by hand
}

// pacingResult is what the server saw.
type pacingResult struct {
	accepted, refused []time.Duration // arrival times, from the first request
	first             time.Duration   // the first request's arrival, server time
	finalRate         float64
	g                 *governor
}

func (r pacingResult) count(ts []time.Duration, from, to time.Duration) int {
	n := 0
	for _, t := range ts {
		if t >= from && t < to {
			n++
		}
	}
	return n
}

// defaultLate: most waits end within half a millisecond, one in ten within
// 5 ms, one in a hundred up to 40 ms late (measured on the shared 2-core
// machine of the benchmarks, at a load average of 10).
func defaultLate(r *rand.Rand) time.Duration {
	switch p := r.Float64(); {
	case p < 0.9:
		return time.Duration(r.Float64() * float64(500*time.Microsecond))
	case p < 0.99:
		return 500*time.Microsecond + time.Duration(r.Float64()*float64(4500*time.Microsecond))
	default:
		return 5*time.Millisecond + time.Duration(r.Float64()*float64(35*time.Millisecond))
	}
}

// defaultNetDelay: 100-400 µs to reach the server; one request in a
// hundred 1-5 ms more, one in a thousand 5-30 ms more (measured at 25/s on
// the shared machine of the benchmarks: one gap in a hundred shrank by
// more than a millisecond, one in a thousand by 25 ms).
func defaultNetDelay(r *rand.Rand) time.Duration {
	d := 100*time.Microsecond + time.Duration(r.Float64()*float64(300*time.Microsecond))
	switch p := r.Float64(); {
	case p < 0.001:
		d += 5*time.Millisecond + time.Duration(r.Float64()*float64(25*time.Millisecond))
	case p < 0.01:
		d += time.Millisecond + time.Duration(r.Float64()*float64(4*time.Millisecond))
	}
	return d
}

type simEvent struct {
	at     time.Duration
	worker int
	kind   int // evWake, evArrive, evAnswer
	mark   sendMark
	ok     bool
	wait   time.Duration // the server's wait, for a refusal
}

const (
	evWake = iota
	evArrive
	evAnswer
)

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].kind > q[j].kind // answers and arrivals before wake-ups
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// run simulates dur of the client against srv. The client's workers take
// turns at the send gate (see Client.get): the one holding it waits for the
// pause, then for a token of the limiter, then for the spacing, sends, and
// lets the next one in.
func (p pacingRun) run(srv *pacingServer, dur time.Duration) pacingResult {
	if p.workers == 0 {
		p.workers = 8
	}
	if p.latency == 0 {
		p.latency = 20 * time.Millisecond
	}
	if p.late == nil {
		p.late = defaultLate
	}
	if p.netDelay == nil {
		p.netDelay = defaultNetDelay
	}
	if p.retryAfter == nil {
		p.retryAfter = retryAfterSeconds
	}
	rng := rand.New(rand.NewPCG(p.seed, 17))
	t0 := govT0
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	lim := rate.NewLimiter(rate.Limit(p.clientRate), p.clientBurst)
	// A full bucket: NewClient leaves it empty, but a run reads its
	// store before its first request, and the bucket fills meanwhile.
	// The first requests leave as a burst (in the pacing matrix, five to
	// seven within 8 ms at 10x the limit).
	g := newGovernorAt(lim, rate.Limit(p.start), t0)
	var (
		q        simQueue
		pauseEnd time.Duration
		gate     pauseGate // for its fallback pause only: its clock is the wall's
		res      pacingResult
		first    = time.Duration(-1)
		free     = p.workers // workers with nothing in flight
		gateBusy bool
		reserved bool // the gate holder has its limiter token
	)
	openGate := func(now time.Duration) {
		if !gateBusy && free > 0 {
			gateBusy = true
			heap.Push(&q, simEvent{at: now, kind: evWake})
		}
	}
	openGate(0)
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		if e.at >= dur {
			break
		}
		now := e.at
		switch e.kind {
		case evWake: // the gate holder wakes
			if now < pauseEnd {
				reserved = false
				heap.Push(&q, simEvent{at: pauseEnd + p.late(rng), kind: evWake})
				continue
			}
			if !reserved {
				reserved = true
				if d := lim.ReserveN(at(now), 1).DelayFrom(at(now)); d > 0 {
					heap.Push(&q, simEvent{at: now + d + p.late(rng), kind: evWake})
					continue
				}
			}
			m, wait := g.admit(at(now))
			if wait > 0 {
				late := p.late(rng)
				if g.onTime() {
					// As sleepOnTime waits: a timer for all but the
					// last spinTail, which ends as late as any, then
					// a spin that ends within a few turns of the
					// scheduler, unless the timer ended later still.
					late = max(0, late-spinTail) + time.Duration(rng.Int64N(int64(30*time.Microsecond)))
				}
				heap.Push(&q, simEvent{at: now + wait + late, kind: evWake})
				continue
			}
			reserved, gateBusy = false, false
			free--
			heap.Push(&q, simEvent{at: now + p.netDelay(rng), kind: evArrive, mark: m})
			openGate(now + p.late(rng))
		case evArrive:
			if first < 0 {
				first = now
				res.first = now
			}
			ok, wait := srv.allow(now)
			if ok {
				res.accepted = append(res.accepted, now-first)
				lat := p.latency
				if p.jitter > 0 {
					lat += time.Duration(rng.Int64N(int64(p.jitter)))
				}
				heap.Push(&q, simEvent{at: now + lat, kind: evAnswer, mark: e.mark, ok: true})
			} else {
				res.refused = append(res.refused, now-first)
				heap.Push(&q, simEvent{at: now + 200*time.Microsecond, kind: evAnswer, mark: e.mark, wait: wait})
			}
		case evAnswer:
			if e.ok {
				g.accepted(at(now), e.mark)
			} else {
				// As Client.throttle does: a usable Retry-After is the
				// pause; else the fallback, once a pause, with jitter.
				wait, ok := p.retryAfter(e.wait, now)
				guessed := !ok || wait <= 0
				v := g.refused(at(now), e.mark, guessed)
				if guessed {
					wait = 0
					if v.pause {
						base := gate.fallback(fallbackBase, e.mark.n == 1)
						wait = base/2 + time.Duration(rng.Int64N(int64(base/2)))
					}
				}
				if p.trace && v.pause {
					fmt.Printf("  %7.3fs refused n=%d sentRate=%.2f burst=%v pause=%v -> rate %.2f lo=%.2f hi=%.2f climbing=%v target=%.2f\n", (now - first).Seconds(), e.mark.n, float64(e.mark.rate), v.burst, wait, float64(lim.Limit()), float64(v.lo), float64(v.hi), g.climbing, float64(g.target))
				}
				if end := now + wait; end > pauseEnd {
					pauseEnd = end
					g.paused(at(end))
				}
			}
			free++
			openGate(now + p.late(rng))
		}
	}
	res.finalRate = float64(lim.Limit())
	res.g = g
	return res
}

// fallbackBase is the client's fallback pause before jitter: four times
// the default BackoffBase, as Client.throttle asks for.
const fallbackBase = 4 * 500 * time.Millisecond

// retryAfterSeconds is webexsim's default form: whole seconds, at least one.
func retryAfterSeconds(w, _ time.Duration) (time.Duration, bool) {
	return max(time.Second, time.Duration(math.Ceil(w.Seconds()))*time.Second), true
}

// retryAfterDate is the HTTP-date form, as webexsim writes it (the moment
// a token frees up, at least a second away, rounded up to a whole second
// of the clock) and the client reads it (that moment less now): a pause of
// one to two seconds. The simulated clock starts on a whole second.
func retryAfterDate(w, now time.Duration) (time.Duration, bool) {
	until := now + max(w, time.Second)
	t := until.Truncate(time.Second)
	if t < until {
		t += time.Second
	}
	return t - now, true
}

// retryAfterNone is a 429 without a Retry-After.
func retryAfterNone(time.Duration, time.Duration) (time.Duration, bool) { return 0, false }
