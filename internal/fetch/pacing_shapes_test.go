package fetch

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The targets for a server of any shape (issue 17), judged as
// cmd/wxc-bench's pacing matrix judges a cell (see internal/bench's
// matrixFirst for why): at least 97% of the limit once converged (from
// 30 s after the first 429 on; what the client took from the stock its
// bucket held then does not count), at most five 429s in those 30 s
// and one a minute after (counted from 30 s after a drop, if later; over a
// minute at the least), and after a rise 90% of the new limit over 30 s
// within five minutes of it. The whole-cell share (of bucket + limit) is
// printed too.
const (
	shapeMinShare  = 0.97
	shapeMax30     = 5
	shapeMaxPerMin = 1.0
	shapeRiseShare = 0.90
	shapeRiseIn    = 5 * time.Minute
)

// shape is one server and client of the simulated-clock test: a token
// bucket of rate L (changeTo from 30 s on, if set) and size b, the client
// at over × L (or at client/s), with its default burst of 5.
type shape struct {
	name     string
	L, b     float64
	over     float64
	client   float64 // the client's rate, if not over × L
	changeTo float64
	dur      time.Duration
	run      pacingRun // its latency, Retry-After form and noise; seed and rates are set by the test
	// short is what the governor achieves where it falls short of the
	// targets (on every seed), and why; nil: it meets them.
	short *shortfall
}

// shortfall is a cell's stated bound below the targets: the least
// share, the most 429s in the first 30 s and a minute after it achieves on
// every seed of the test, a little loosened, so that a change that makes
// it worse fails.
type shortfall struct {
	minShare  float64
	max30     int
	maxPerMin float64
}

// shapeResult is a shape's figures on one seed.
type shapeResult struct {
	share, perMin float64
	converged     float64 // the share once converged; -1: no time left after the window
	firstAt       time.Duration
	first         int
	reached       time.Duration // after a rise: end of the first 30 s window at 90%; -1 never
}

func (sh shape) measure(seed uint64) shapeResult {
	dur := sh.dur
	if dur == 0 {
		dur = 90 * time.Second
	}
	const change = 30 * time.Second
	limit := func(at time.Duration) float64 {
		if sh.changeTo > 0 && at >= change {
			return sh.changeTo
		}
		return sh.L
	}
	capacity := sh.b + sh.L*dur.Seconds()
	if sh.changeTo > 0 {
		capacity = sh.b + sh.L*change.Seconds() + sh.changeTo*(dur-change).Seconds()
	}
	p := sh.run
	p.clientRate, p.clientBurst, p.seed = sh.over*sh.L, 5, seed
	if sh.client > 0 {
		p.clientRate = sh.client
	}
	capTo := func(t time.Duration) float64 { // the limit's integral over [0, t]
		if sh.changeTo > 0 && t > change {
			return sh.L*change.Seconds() + sh.changeTo*(t-change).Seconds()
		}
		return sh.L * t.Seconds()
	}
	srv := &pacingServer{limit: limit, bucket: sh.b}
	r := p.run(srv, dur)
	var start time.Duration // the first 429 starts the convergence window
	if len(r.refused) > 0 {
		start = r.refused[0]
	}
	settle := start + 30*time.Second
	judged := dur - 30*time.Second
	if sh.changeTo > 0 && sh.changeTo < sh.L {
		settle = max(settle, change+30*time.Second)
		judged -= change
	}
	if len(r.refused) > 0 && start <= dur && sh.changeTo <= sh.L && settle+judged > dur {
		// As the matrix runs a cell (internal/bench, MatrixCell.until):
		// as long past the window as a cell whose first 429 came at once.
		// The same seed replays the same run, longer.
		dur = settle + judged
		srv = &pacingServer{limit: limit, bucket: sh.b}
		r = p.run(srv, dur)
		capacity = sh.b + sh.L*dur.Seconds()
		if sh.changeTo > 0 {
			capacity = sh.b + sh.L*change.Seconds() + sh.changeTo*(dur-change).Seconds()
		}
	}
	res := shapeResult{
		share:     float64(len(r.accepted)) / capacity,
		firstAt:   start,
		first:     r.count(r.refused, start, start+30*time.Second),
		converged: -1,
		reached:   -1,
	}
	if settle < dur {
		res.perMin = float64(r.count(r.refused, settle, dur)) / max(dur-settle, time.Minute).Minutes()
		drawn := max(0, srv.tokensAt(r.first+settle)-srv.tokensAt(r.first+dur))
		res.converged = (float64(r.count(r.accepted, settle, dur)) - drawn) / (capTo(dur) - capTo(settle))
	}
	if sh.changeTo > sh.L {
		for from := change; from+30*time.Second <= dur; from += 100 * time.Millisecond {
			if float64(r.count(r.accepted, from, from+30*time.Second))/30 >= shapeRiseShare*sh.changeTo {
				res.reached = from + 30*time.Second - change
				break
			}
		}
	}
	return res
}

// meets reports whether res meets the targets, and what it misses.
func (sh shape) meets(res shapeResult) (bool, string) {
	var why []string
	if sh.changeTo <= sh.L && res.converged >= 0 && res.converged < shapeMinShare {
		why = append(why, fmt.Sprintf("converged %.1f%% < 97%%", 100*res.converged))
	}
	if res.first > shapeMax30 {
		why = append(why, fmt.Sprintf("%d 429s in the first 30 s", res.first))
	}
	if res.perMin > shapeMaxPerMin {
		why = append(why, fmt.Sprintf("%.1f 429s a minute", res.perMin))
	}
	if sh.changeTo > sh.L && (res.reached < 0 || res.reached > shapeRiseIn) {
		why = append(why, "the rise not found within 5 minutes")
	}
	return len(why) == 0, strings.Join(why, "; ")
}

// matrixShapes are the cells of wxc-bench's pacing matrix (its defaults:
// 20 ms latency, whole-second Retry-After, client burst 5).
func matrixShapes() []shape {
	var out []shape
	for _, L := range []float64{2, 10, 25} {
		for _, b := range []float64{1, 3, 20, 100} {
			for _, over := range []float64{2, 10} {
				out = append(out, shape{name: fmt.Sprintf("%g/s bucket %g client %gx", L, b, over), L: L, b: b, over: over})
			}
		}
	}
	for _, b := range []float64{1, 20} {
		out = append(out,
			shape{name: fmt.Sprintf("25->10/s at 30 s bucket %g", b), L: 25, changeTo: 10, b: b, client: 50, dur: 120 * time.Second},
			shape{name: fmt.Sprintf("10->25/s at 30 s bucket %g", b), L: 10, changeTo: 25, b: b, client: 50, dur: 360 * time.Second})
	}
	return out
}

// slowNet: one request in fifty reaches the server 1-10 ms late, one in
// three hundred 10-40 ms (a busier machine than defaultNetDelay's).
func slowNet(r *rand.Rand) time.Duration {
	d := 100*time.Microsecond + time.Duration(r.Float64()*float64(300*time.Microsecond))
	switch p := r.Float64(); {
	case p < 1.0/300:
		d += 10*time.Millisecond + time.Duration(r.Float64()*float64(30*time.Millisecond))
	case p < 0.02:
		d += time.Millisecond + time.Duration(r.Float64()*float64(9*time.Millisecond))
	}
	return d
}

// otherShapes are servers the matrix does not have, so that the governor
// is not tuned to 28 cells: limits between and beyond its, answers with
// jittered latency, a Retry-After as an HTTP-date or none at all, a
// noisier network.
func otherShapes() []shape {
	return []shape{
		{name: "7/s bucket 1 client 3x", L: 7, b: 1, over: 3},
		{name: "7/s bucket 5 client 3x", L: 7, b: 5, over: 3},
		{name: "40/s bucket 10 client 2x", L: 40, b: 10, over: 2},
		{name: "40/s bucket 40 client 5x", L: 40, b: 40, over: 5},
		{name: "10/s bucket 20, latency 20-120 ms", L: 10, b: 20, over: 3, run: pacingRun{latency: 20 * time.Millisecond, jitter: 100 * time.Millisecond, workers: 16}},
		{name: "10/s bucket 3, Retry-After an HTTP-date", L: 10, b: 3, over: 3, run: pacingRun{retryAfter: retryAfterDate}},
		{name: "25/s bucket 20, Retry-After an HTTP-date", L: 25, b: 20, over: 2, run: pacingRun{retryAfter: retryAfterDate}},
		{name: "10/s bucket 20, no Retry-After", L: 10, b: 20, over: 3, run: pacingRun{retryAfter: retryAfterNone}},
		{name: "25/s bucket 100, no Retry-After", L: 25, b: 100, over: 2, run: pacingRun{retryAfter: retryAfterNone}},
		{name: "10/s bucket 1, no Retry-After", L: 10, b: 1, over: 2, run: pacingRun{retryAfter: retryAfterNone}},
		{name: "25/s bucket 20, noisier network", L: 25, b: 20, over: 2, run: pacingRun{netDelay: slowNet}},
		// wxc-bench's pacing scenario at R/2, for 90 s rather than 20.
		{name: "25/s bucket 5, latency 100-300 ms, 32 workers", L: 25, b: 5, over: 2, run: pacingRun{latency: 100 * time.Millisecond, jitter: 200 * time.Millisecond, workers: 32}},
	}
}

// shapeSeeds is how many seeds each shape runs on: three by default, more
// to screen a change to the governor (go test ./internal/fetch -run
// TestGovernorAgainstServersOfEveryShape -shape-seeds 12), where a
// shortfall's bounds, stated for seeds 1-3, may be missed on a later one.
var shapeSeeds = flag.Int("shape-seeds", 3, "seeds each shape of TestGovernorAgainstServersOfEveryShape runs on")

func TestGovernorAgainstServersOfEveryShape(t *testing.T) {
	t.Parallel()
	shapes := append(matrixShapes(), otherShapes()...)
	short := shortfalls()
	for _, sh := range shapes {
		sh.short = short[sh.name]
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= uint64(*shapeSeeds); seed++ {
				res := sh.measure(seed)
				ok, why := sh.meets(res)
				t.Logf("seed %d: converged %.1f%%, %.1f%% of bucket + limit, first 429 at %.1f s, %d 429s in the 30 s from it, %.1f a minute after, rise found after %v; targets met: %v %s",
					seed, 100*res.converged, 100*res.share, res.firstAt.Seconds(), res.first, res.perMin, res.reached, ok, why)
				if sh.short == nil {
					if !ok {
						t.Errorf("seed %d misses the issue's targets: %s", seed, why)
					}
					continue
				}
				if sh.changeTo <= sh.L && res.converged < sh.short.minShare {
					t.Errorf("seed %d: converged %.1f%%, want at least %.1f%% (short of 97%%: see shortfalls)", seed, 100*res.converged, 100*sh.short.minShare)
				}
				if res.first > sh.short.max30 {
					t.Errorf("seed %d: %d 429s in the first 30 s, want at most %d", seed, res.first, sh.short.max30)
				}
				if res.perMin > sh.short.maxPerMin {
					t.Errorf("seed %d: %.1f 429s a minute, want at most %g", seed, res.perMin, sh.short.maxPerMin)
				}
				if sh.changeTo > sh.L && (res.reached < 0 || res.reached > shapeRiseIn) {
					t.Errorf("seed %d: 90%% of the new limit not reached within 5 minutes of the rise", seed)
				}
			}
		})
	}
}

// shortfalls are the shapes where the governor falls short of the issue's
// targets on the simulated clock, with what it achieves instead. See
// docs/BENCHMARKS.md (issue 17) for why.
//
// Each entry states the converged share, the 429s in the 30 s from the
// first and the 429s a minute after that the governor keeps to on every
// seed (its worst less a point of share), and its figures on seeds 1-3
// (converged share/429s in the 30 s/a minute after). What they are short
// of, and why:
//   - a strict server at 25/s: sent on time and read with the lateness
//     of the request before a refusal, the hold ends within a point of
//     the limit, and a 429 in the judged minute costs 1.7% of it; on 12
//     seeds 11 (client 2x) and 9 (10x) meet the targets, against 7 and 8
//     before the spin and the lateness read into the fit;
//   - a bucket of 20 at 25/s answering with a Retry-After as an
//     HTTP-date: a whole second's pause for every 429 (the date's
//     resolution), and the roomy hold 3% under the fit's upper bound,
//     end at 97.0% on two seeds of three (96.97%); on 12 seeds 9 meet
//     the targets, as before that hold.
func shortfalls() map[string]*shortfall {
	return map[string]*shortfall{
		"25/s bucket 1 client 2x":                  {minShare: 0.95, max30: 5, maxPerMin: 1}, // seeds 1-3: 97.3%/3/0.0, 96.0%/3/1.0, 97.8%/3/0.0
		"25/s bucket 1 client 10x":                 {minShare: 0.95, max30: 5, maxPerMin: 1}, // seeds 1-3: 96.9%/3/0.0, 97.3%/3/0.0, 97.6%/4/0.0
		"25/s bucket 20, Retry-After an HTTP-date": {minShare: 0.96, max30: 5, maxPerMin: 1}, // seeds 1-3: 97.0%/3/1.0, 97.7%/3/1.0, 97.0%/3/1.0
	}
}
