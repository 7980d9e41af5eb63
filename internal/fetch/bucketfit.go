package fetch

import (
	"math"
	"time"
)

// The server is taken to be a token bucket of unknown rate L and size b.
// Every request it accepted found a token in the bucket, and every refusal
// that opened a burst found none: replaying the client's own record of
// what it sent, and what came back, through a bucket of size b gives the
// rates L that explain the record. Tokens grow with L at every moment (the
// consumption is the record's, not the model's), so the acceptances bound
// L from below and the refusals from above, for each b. The sizes whose
// two bounds cross cannot be the server's.

// sendOutcome is what became of a request the client sent.
type sendOutcome uint8

const (
	outPending  sendOutcome = iota // no answer yet
	outAccepted                    // any answer but a 429 or 423
	outRefused                     // a 429 or 423 answering a request already in a burst
	outBurst                       // the 429 or 423 that opened a burst
)

// sendRec is one request of the record: when it left, what came back,
// and how late it is taken to have reached the server (its round trip
// above the least of the recent ones, once accepted; 0 otherwise).
type sendRec struct {
	at   time.Time
	out  sendOutcome
	late time.Duration
}

// fitSlack is how far off its send time a request may have reached the
// server (the time a request takes differs from one to the next, and the
// record has send times), at the least; the governor widens it up to
// maxFitSlack when refusals come where the record said there was room.
const (
	fitSlack    = time.Millisecond
	maxFitSlack = 16 * time.Millisecond
)

// bucketSizes are the sizes tried: 1 (a strict server) to 4096,
// bucketStep apart.
var bucketSizes = func() []float64 {
	var s []float64
	for b := 1.0; b <= 4096; b *= bucketStep {
		s = append(s, b)
	}
	return s
}()

const bucketStep = 1.1

// fit is what a stretch of the record says of the server's rate: it is at
// least lo and below hi, over the bucket sizes that explain the record; ok
// is false when none does (the limit moved, or the server is no token
// bucket).
type fit struct {
	lo, hi float64
	// smallest is the smallest bucket that explains the record.
	smallest float64
	ok       bool
}

// bucketStart is what the bucket held at a stretch's first request.
type bucketStart int

const (
	startRefused bucketStart = iota // it was refused: less than a token
	startFull                       // the server had been idle: full
	startUnknown                    // anything up to full
)

// fitRecord fits recs, whose first request found the bucket as start
// says, with buckets up to maxBucket, each request having reached the
// server up to slack off its send time. Rates are searched between floor
// and ceil.
func fitRecord(recs []sendRec, start bucketStart, slack time.Duration, floor, ceil, maxBucket float64) fit {
	return fitRecordIn(recs, start, slack, floor, ceil, 0, maxBucket)
}

// fitRecordIn is fitRecord with buckets of minBucket tokens or more only
// (the sizes whose range reaches it).
func fitRecordIn(recs []sendRec, start bucketStart, slack time.Duration, floor, ceil, minBucket, maxBucket float64) fit {
	if len(recs) == 0 {
		return fit{}
	}
	// The record as the replay reads it: seconds since the request before,
	// and the outcome.
	tr := trace{dt: make([]float64, len(recs)), out: make([]sendOutcome, len(recs)), after: make([]float64, len(recs)), slack: slack.Seconds()}
	for i, r := range recs {
		if i > 0 {
			tr.dt[i] = r.at.Sub(recs[i-1].at).Seconds()
			tr.after[i] = recs[i-1].late.Seconds()
		}
		tr.out[i] = r.out
	}
	f := fit{lo: math.Inf(1)}
	// A larger bucket holds more tokens at every moment, so both bounds
	// fall as the size grows: each size's search starts from the last's.
	top, topHi := ceil, ceil
	for _, b := range bucketSizes {
		if b > maxBucket {
			break
		}
		if b*bucketStep <= minBucket {
			continue
		}
		// Each size stands for those up to the next one, and the first
		// request may have found anything the start allows: the
		// acceptances are read with the larger bucket and the most
		// tokens, the refusals with the smaller and the fewest, so that
		// each bound holds for every size and start in between.
		bigger := b * bucketStep
		most, fewest := 1.0, 0.0
		switch start {
		case startFull:
			most, fewest = bigger, b
		case startUnknown:
			most = bigger
		}
		// lo is the least rate the acceptances allow; hi the least the
		// refusals forbid.
		lo := bisectRate(floor, top, func(L float64) bool { return tr.replay(most, bigger, L, tooLow) == fits })
		top = lo
		if tr.replay(most, bigger, lo, tooLow) != fits || tr.replay(fewest, b, lo, tooHigh) == tooHigh {
			if lo <= floor {
				// The acceptances allow any rate: a larger bucket only
				// makes the refusals harder to explain.
				break
			}
			continue
		}
		hi := bisectRate(lo, max(lo, topHi), func(L float64) bool { return tr.replay(fewest, b, L, tooHigh) == tooHigh })
		topHi = hi
		if !f.ok {
			f.smallest = b
		}
		f.ok = true
		f.lo = min(f.lo, lo)
		f.hi = max(f.hi, hi)
	}
	if !f.ok {
		return fit{}
	}
	return f
}

// replay verdicts.
const (
	fits    = iota
	tooLow  // an accepted request would have found no token
	tooHigh // a refusal would have found one
)

// trace is a record as replay reads it.
type trace struct {
	dt    []float64 // seconds since the request before
	out   []sendOutcome
	after []float64 // how late the request before reached the server, seconds
	slack float64   // seconds a request may have reached the server off its send time
}

// replay runs the trace through a bucket of size b and rate L, holding
// start tokens at the first request, and checks the acceptances (mode
// tooLow: does one find no token?) or the refusals (mode tooHigh: does one
// find a token?). Each request may have reached the server up to
// t.slack later (an acceptance) or earlier (a refusal) than its send time
// says, and a refusal as much closer to the request before it as that
// one was late (t.after).
func (t trace) replay(start, b, L float64, mode int) int {
	tokens := min(b, start)
	slack := L * t.slack
	for i, dt := range t.dt {
		refill := L * dt
		switch t.out[i] {
		case outPending:
			// Its answer is not back: it may have been refused. Read
			// for the acceptances it took no token (the lower bound
			// holds whether it did or not), for the refusals it took
			// one (so does the upper). Answers race: the 429 of one of
			// two requests sent together may come back first, and the
			// other read as accepted made a strict server one of two
			// tokens.
			if mode == tooLow {
				tokens = min(b, tokens+refill)
			} else {
				tokens = max(0, min(b, tokens+refill)-1)
			}
		case outAccepted:
			if mode == tooLow && min(b, tokens+refill+slack) < 1 {
				return tooLow
			}
			// Read for the refusals, an acceptance the bucket could not
			// afford leaves it empty, not in debt: it was taken, so it
			// found a token.
			tokens = max(0, min(b, tokens+refill)-1)
		case outBurst:
			// A refusal after a request that reached the server late
			// came that much closer to it than their send times say.
			if mode == tooHigh && min(b, tokens+max(0, refill-slack-L*t.after[i])) >= 1 {
				return tooHigh
			}
			tokens = min(b, tokens+refill)
		default:
			tokens = min(b, tokens+refill)
		}
	}
	return fits
}

// bisectRate returns the least rate in [lo, hi] for which ok holds, ok
// being false below some rate and true from it on; hi if it never holds.
// The search is on a log scale, to half a percent.
func bisectRate(lo, hi float64, ok func(float64) bool) float64 {
	if ok(lo) {
		return lo
	}
	if !ok(hi) {
		return hi
	}
	for hi/lo > 1.005 {
		mid := math.Sqrt(lo * hi)
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// narrow reports whether the bounds are within a few margins.
func (f fit) narrow() bool { return f.hi <= f.lo*(1+4*margin) }

// roomy reports whether every bucket that explains the record holds a few
// tokens: a request that reached such a server early found a token all the
// same, so the rate may sit between the bounds. Against a smaller one it
// must sit under the lower, by the time the requests' own timing leaves
// open.
func (f fit) roomy() bool { return f.smallest >= 3 }
