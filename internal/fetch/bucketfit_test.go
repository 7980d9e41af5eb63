package fetch

import (
	"testing"
	"time"
)

// records builds a record from runs of requests: n requests, each gap
// after the one before, all with outcome out (the last of a run may be
// overridden with last). The first request is at start.
type run struct {
	n    int
	gap  time.Duration
	out  sendOutcome
	last sendOutcome // 0: as out
}

func records(start time.Time, runs ...run) []sendRec {
	var recs []sendRec
	at := start
	for _, r := range runs {
		for i := range r.n {
			if len(recs) > 0 {
				at = at.Add(r.gap)
			}
			out := r.out
			if i == r.n-1 && r.last != 0 {
				out = r.last
			}
			recs = append(recs, sendRec{at: at, out: out})
		}
	}
	return recs
}

func TestFitRecord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		recs     []sendRec
		start    bucketStart
		max      float64
		lo, hi   float64 // the fit must lie within [lo, hi]...
		contains float64 // ...and contain the server's rate
		smallest float64 // the server's bucket: the smallest that explains the record is about it
	}{
		{
			// A strict server (10/s, bucket 1): after a refusal, 20
			// requests 105 ms apart taken, then one 95 ms after the last
			// refused. 1/0.105 = 9.52 ≤ L < 1/0.095 = 10.5, widened by the
			// millisecond the requests' timing may be off, and by a bucket
			// of up to 2 (the record cannot tell it from 1): 9.0 to 10.7.
			name: "strict",
			recs: records(govT0,
				run{n: 1, out: outBurst},
				run{n: 20, gap: 105 * time.Millisecond, out: outAccepted},
				run{n: 1, gap: 95 * time.Millisecond, out: outBurst}),
			start: startRefused, max: 2,
			lo: 9.0, hi: 10.7, contains: 10, smallest: 1,
		},
		{
			// A bursty server (10/s, bucket 20), first run: the client at
			// 20/s from an idle server had 40 taken and the 41st refused
			// (at 2.0 s: 20 + 10×2.0 = 40); a second later (10 tokens
			// back), at 15/s, 30 more taken in 2 s (10 + 10×2) and the
			// next refused. A strict server at 20/s would have taken all
			// of the second spell: only 10/s with a bucket near 20
			// explains both.
			name: "bursty",
			recs: records(govT0,
				run{n: 41, gap: 50 * time.Millisecond, out: outAccepted, last: outBurst},
				run{n: 1, gap: time.Second, out: outAccepted},
				run{n: 30, gap: time.Second / 15, out: outAccepted, last: outBurst}),
			start: startFull, max: 41,
			lo: 9, hi: 11, contains: 10, smallest: 20,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fitRecord(tt.recs, tt.start, fitSlack, 0.05, 100, tt.max)
			if !f.ok || f.lo < tt.lo || f.hi > tt.hi || f.lo > tt.contains || f.hi <= tt.contains {
				t.Fatalf("fit [%.2f, %.2f) ok %v; want within [%g, %g] and containing %g", f.lo, f.hi, f.ok, tt.lo, tt.hi, tt.contains)
			}
			if f.smallest > tt.smallest || f.smallest*bucketStep*bucketStep < tt.smallest {
				t.Errorf("smallest bucket %.2f, want about %g", f.smallest, tt.smallest)
			}
		})
	}

	// A record no token bucket explains: a refusal, then requests taken
	// 10 ms apart (100/s), then a refusal after a 2 s silence (the limit
	// fell).
	recs := records(govT0,
		run{n: 1, out: outBurst},
		run{n: 50, gap: 10 * time.Millisecond, out: outAccepted},
		run{n: 1, gap: 2 * time.Second, out: outBurst})
	if f := fitRecord(recs, startRefused, fitSlack, 0.05, 200, 60); f.ok {
		t.Errorf("an inconsistent record fitted: [%.2f, %.2f)", f.lo, f.hi)
	}
}

// A request whose answer is not back may have been refused: the answers
// of requests sent together race, and the 429 of the later one may come
// back first. A strict server of 2/s: the run's first request taken, two
// sent together 24 ms later refused, the second's 429 back first, so
// that the first is still pending when the governor fits the record at
// the burst (and raises its least bucket to what the fit found); then,
// after the pause, the client climbs and is refused 460 ms after a
// request taken 550 ms after the one before. Read as either, the pending
// request leaves a bucket of one at 1.8-2.18/s (and larger ones at
// lower rates: the fit's upper bound is 2.18/s); read as taken, it would
// need a bucket of one at 40/s or more, which the last refusal forbids,
// and the fit would make the server one of 1.5 tokens or more.
func TestFitRecordReadsAPendingRequestAsEither(t *testing.T) {
	t.Parallel()
	recs := []sendRec{
		{at: ms(0), out: outAccepted},
		{at: ms(24), out: outPending},
		{at: ms(24), out: outBurst},
		{at: ms(1030), out: outAccepted}, // after the pause
		{at: ms(1580), out: outAccepted},
		{at: ms(2040), out: outBurst},
	}
	f := fitRecord(recs, startFull, fitSlack, 0.05, 500, 3)
	if !f.ok || f.smallest != 1 || f.hi < 2.15 || f.hi > 2.2 {
		t.Errorf("fit %+v: want a bucket of one among those that explain the record, under 2.2/s", f)
	}
	recs[1].out = outAccepted
	if f := fitRecord(recs, startFull, fitSlack, 0.05, 500, 3); f.ok && f.smallest < 1.5 {
		t.Errorf("with the pending request read as taken, fit %+v: want no bucket under 1.5 tokens", f)
	}
}

// A refusal after a request that reached the server late came closer to
// it than their send times say: against a strict server of 25/s (40 ms a
// token), twenty requests taken 41 ms apart, the last of them 3 ms late
// (its round trip 3 ms over the least), and the next, sent 44 ms after it
// (the spacing waits out the lateness), refused: it reached the server
// 41 ms after the late one, 1 ms early by its own noise, within the 40 ms.
// Read by the send times alone the refusal says the rate is under
// 1/(44 ms - 1 ms) = 23.3/s, under the server's; with the late request's
// 3 ms it says under 1/(44 - 1 - 3 ms) = 25/s, and the server's rate
// explains the record.
func TestFitRecordReadsARefusalAfterALateRequest(t *testing.T) {
	t.Parallel()
	recs := records(govT0,
		run{n: 1, out: outBurst},
		run{n: 20, gap: 41 * time.Millisecond, out: outAccepted},
		run{n: 1, gap: 44 * time.Millisecond, out: outBurst})
	f := fitRecord(recs, startRefused, fitSlack, 0.05, 200, 2)
	if !f.ok || f.hi > 23.5 {
		t.Fatalf("no request late: fit %+v, want an upper bound under 23.5/s (1/43 ms)", f)
	}
	recs[len(recs)-2].late = 3 * time.Millisecond
	f = fitRecord(recs, startRefused, fitSlack, 0.05, 200, 2)
	if !f.ok || f.hi < 25 || f.lo > 25 {
		t.Errorf("the request before the refusal 3 ms late: fit %+v, want bounds around 25/s", f)
	}
}
