package bench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// The figures of a cell from the simulator's counts, at values a reader can
// check by hand.
func TestMatrixCellMeasure(t *testing.T) {
	t.Parallel()
	// samples every second: accepted at a steady rate, 429s at given times.
	series := func(n int, accepted func(s int) int64, throttled func(s int) int64) []matrixSample {
		out := make([]matrixSample, n+1)
		for s := range out {
			out[s] = matrixSample{t: time.Duration(s) * time.Second, accepted: accepted(s), throttled: throttled(s)}
		}
		return out
	}
	t.Run("steady", func(t *testing.T) {
		t.Parallel()
		c := &MatrixCell{Kind: "steady", Limit: 10, Bucket: 3, ClientRate: 20, Length: 90}
		// 9.8 accepted a second; 4 429s in the first 30 s, then one at 70 s.
		c.measure(series(95, func(s int) int64 { return int64(9.8 * float64(s)) }, func(s int) int64 {
			switch {
			case s < 10:
				return int64(s / 3) // 0..3
			case s < 70:
				return 4
			default:
				return 5
			}
		}), 90*time.Second)
		// The first 429 at 3 s: the 30 s from it hold all four; from 33 s
		// on the limit is 570, and 882 - 323 = 559 were taken: 98.1%.
		if c.Length != 90 || c.Accepted != 882 || c.Capacity != 900 || math.Abs(c.Share-0.98) > 1e-9 || math.Abs(c.Offered()-882.0/903) > 1e-9 ||
			c.FirstAt != 3 || c.First != 4 || c.AfterFrom != 33 || c.After != 1 || math.Abs(c.Converged-559.0/570) > 1e-9 {
			t.Fatalf("measured %+v; want 90 s, 882 accepted of 900 (98%%; 97.7%% of 3 + 900), the first 429 at 3 s, 4 429s in the 30 s from it, 1 a minute after, 559 of 570 from 33 s", c)
		}
		if c.judge(); !c.Pass {
			t.Errorf("judged a failure: %s", c.Why)
		}
		// 10/s from 33 s, 570, but 20 of them out of a bucket full at
		// 33 s and empty at the end: 550 of the limit's 570, 96.5%.
		samples := series(95, func(s int) int64 { return int64(9.8*float64(min(s, 33)) + 10*float64(max(0, s-33))) }, func(s int) int64 { return int64(min(4, s/3)) })
		for i := range samples {
			samples[i].tokens = 20 * float64(max(0, 90-i)) / 90
		}
		if c.measure(samples, 90*time.Second); math.Abs(c.Converged-(570.0-20*57.0/90)/570) > 1e-9 {
			t.Errorf("converged %.4f, the bucket drawn from %.1f to 0, want (570 - %.1f)/570", c.Converged, 20*57.0/90, 20*57.0/90)
		}
		// 9.6/s: 576 of the limit's 600 from 30 s, 96%.
		c.measure(series(95, func(s int) int64 { return int64(9.6 * float64(s)) }, func(int) int64 { return 6 }), 90*time.Second)
		if c.judge(); c.Pass || c.Why != "converged 96.0% < 97%; 6 429s in the first 30 s > 5" {
			t.Errorf("96%% of the limit with 6 429s at the start judged %v: %q", c.Pass, c.Why)
		}
		// Exactly at the limit from the start, never refused: 100% once
		// converged (from 30 s), whatever the bucket holds; the whole
		// cell's 180 of 100 + 180 is reported beside it.
		big := &MatrixCell{Kind: "steady", Limit: 2, Bucket: 100, ClientRate: 4, Length: 90}
		big.measure(series(95, func(s int) int64 { return int64(2 * float64(s)) }, func(int) int64 { return 0 }), 90*time.Second)
		if big.judge(); !big.Pass || math.Abs(big.Share-1) > 1e-9 || big.Converged != 1 || math.Abs(big.Offered()-180.0/280) > 1e-9 {
			t.Errorf("180 of 2/s x 90 s with a bucket of 100: share %.3f, converged %.3f, pass %v; want 1.000, 1.000 and a pass", big.Share, big.Converged, big.Pass)
		}
		// At 4/s until the bucket is spent at 50 s, then 2/s: the first
		// 429 at 50 s starts the window; three in it, one at 85 s is one
		// in the minute from 80 s on (not six a minute over the 10 s
		// left); from 80 s the limit is 20, all of which was taken.
		big.measure(series(95, func(s int) int64 { return int64(4*min(s, 50) + 2*max(0, s-50)) }, func(s int) int64 {
			switch {
			case s < 50:
				return 0
			case s < 85:
				return int64(min(3, 1+(s-50)/10))
			default:
				return 4
			}
		}), 90*time.Second)
		if big.judge(); !big.Pass || big.FirstAt != 50 || big.First != 3 || big.AfterFrom != 80 || big.After != 1 || big.Converged != 1 {
			t.Errorf("the bucket of 100 spent at 50 s: measured %+v (%s); want the first 429 at 50 s, 3 in the 30 s from it, 1 a minute from 80 s, converged 100%%, a pass", big, big.Why)
		}
	})
	t.Run("tighten", func(t *testing.T) {
		t.Parallel()
		// 25/s for 30 s, then 10/s: the capacity is 750 + 10 × 90 = 1650.
		c := &MatrixCell{Kind: "tighten", Limit: 25, ChangeTo: 10, ChangeAt: 30, Bucket: 1, ClientRate: 50, Length: 120}
		c.measure(series(125, func(s int) int64 {
			if s <= 30 {
				return int64(25 * s)
			}
			return 750 + int64(10*(s-30))
		}, func(s int) int64 {
			// Three 429s right after the drop, none after 60 s.
			return int64(min(max(s-30, 0), 3))
		}), 120*time.Second)
		// The first 429 at 31 s: the window is 31 s to 61 s, later than
		// 30 s after the drop.
		if c.Capacity != 1650 || c.Accepted != 1650 || c.FirstAt != 31 || c.First != 3 || c.AfterFrom != 61 || c.After != 0 || c.Converged != 1 {
			t.Fatalf("measured %+v; want capacity 1650, all of it accepted, 3 429s in the 30 s from the first at 31 s, none a minute from 61 s, converged 100%%", c)
		}
		// Refused from the first request: the 429s a minute count from
		// 30 s after the drop.
		c.measure(series(125, func(s int) int64 { return int64(25*min(s, 30) + 10*max(s-30, 0)) }, func(s int) int64 { return 1 + int64(min(max(s-30, 0), 3)) }), 120*time.Second)
		if c.FirstAt != 0 || c.First != 1 || c.AfterFrom != 60 {
			t.Fatalf("measured %+v; want 1 429 in the first 30 s, counted a minute from 60 s", c)
		}
	})
	t.Run("loosen", func(t *testing.T) {
		t.Parallel()
		// 10/s, rising to 25/s at 30 s; the client climbs 1/s a second from
		// 10/s at 30 s to 25/s at 45 s. The first 30 s window that averages
		// 22.5/s (90%) starts at 32.75 s; on whole-second samples it is
		// [33 s, 63 s]: found 63 - 30 = 33 s after the rise.
		rateAt := func(s float64) float64 { return min(25, 10+max(0, s-30)) }
		c := &MatrixCell{Kind: "loosen", Limit: 10, ChangeTo: 25, ChangeAt: 30, Bucket: 1, ClientRate: 50, Length: 100}
		c.measure(series(100, func(s int) int64 {
			var n float64
			for x := 0.0; x < float64(s); x += 0.001 {
				n += rateAt(x) * 0.001
			}
			return int64(math.Round(n))
		}, func(int) int64 { return 0 }), 100*time.Second)
		if c.Reached != 33 {
			t.Errorf("reached 90%% of the new limit %v s after the rise, want 33", float64(c.Reached))
		}
		// Climbing to 22/s only, it never gets there.
		c.measure(series(100, func(s int) int64 { return int64(10*min(s, 30) + 22*max(s-30, 0)) }, func(int) int64 { return 0 }), 100*time.Second)
		if c.judge(); c.Reached != -1 || c.Pass {
			t.Errorf("at 88%% of the new limit: reached %v, pass %v; want -1 (never), a failure", float64(c.Reached), c.Pass)
		}
	})
}

// TestMatrixSmoke runs a small matrix over real HTTP and PostgreSQL and
// checks the measurement against the simulator's own limit: no cell may
// have been accepted more than its bucket plus the limit's integral. It
// asserts nothing about how well the client paced.
func TestMatrixSmoke(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Scenarios: []string{ScenarioMatrix}, Concurrency: 8, BatchSize: 100,
		MatrixLimits: []float64{20}, MatrixBuckets: []int{1, 10}, MatrixOver: []float64{2}, MatrixSeconds: 3,
		MatrixChangeBuckets: []int{5}, MatrixChangeHigh: 40, MatrixChangeLow: 20, MatrixChangeAt: time.Second,
		MatrixLoosenSeconds: 3, MatrixLatency: 5 * time.Millisecond, MatrixParallel: 4,
	}
	var progress bytes.Buffer
	res, err := Run(context.Background(), cfg, Env{
		NewDB:    func(context.Context) (string, func(), error) { return pgtest.DBURL(t), func() {}, nil },
		Progress: &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matrix) != 4 {
		t.Fatalf("%d cells, want 4 (2 steady, 1 tightening, 1 loosening)", len(res.Matrix))
	}
	for _, c := range res.Matrix {
		want := Seconds(3)
		if c.Kind == "tighten" {
			want = 4 // the change at 1 s, then 3 s
		}
		if c.Length < want-0.5 || c.Length > want+0.5 {
			t.Errorf("%s: measured over %v, want about %v", c.Name(), c.Length, want)
		}
		if c.Accepted <= 0 || float64(c.Accepted) > float64(c.Bucket)+c.Capacity+1 {
			t.Errorf("%s: %d accepted; want some, and at most the bucket %d + the limit's %.1f", c.Name(), c.Accepted, c.Bucket, c.Capacity)
		}
		if c.First != c.Throttled || c.After != -1 {
			t.Errorf("%s: %d 429s, %d in the first 30 s, %v a minute after; a 3 s cell is all first 30 s", c.Name(), c.Throttled, c.First, c.After)
		}
	}
	if tbl := res.Table(); strings.Count(tbl, "bucket") < 4 || !strings.Contains(tbl, "pacing matrix: every cell") {
		t.Errorf("the table lacks the matrix:\n%s", tbl)
	}
}

// A cell runs its Length, and a minute past its convergence window when
// its first 429 came within the Length: the bucket of 100 at 2/s, spent
// at 50 s, runs to 140 s, not 90 s with 10 s past the window.
func TestMatrixCellRunsAMinutePastItsWindow(t *testing.T) {
	t.Parallel()
	steady := &MatrixCell{Kind: "steady", Limit: 2, Bucket: 100, ClientRate: 4, Length: 90}
	tighten := &MatrixCell{Kind: "tighten", Limit: 25, ChangeTo: 10, ChangeAt: 30, Bucket: 1, ClientRate: 50, Length: 120}
	for _, tc := range []struct {
		name      string
		c         *MatrixCell
		firstAt   time.Duration
		length    time.Duration
		wantUntil time.Duration
	}{
		{"first 429 at once", steady, 50 * time.Millisecond, 90 * time.Second, 90050 * time.Millisecond},
		{"first 429 at 10 s", steady, 10 * time.Second, 90 * time.Second, 100 * time.Second},
		{"first 429 at 49.5 s", steady, 49500 * time.Millisecond, 90 * time.Second, 139500 * time.Millisecond},
		{"no 429 yet", steady, 0, 90 * time.Second, 90 * time.Second},
		{"first 429 after the length", steady, 95 * time.Second, 90 * time.Second, 90 * time.Second},
		{"tighten: judged from 30 s after the drop", tighten, 50 * time.Millisecond, 120 * time.Second, 120 * time.Second},
		{"a quick 3 s cell", &MatrixCell{Kind: "steady", Limit: 20, Bucket: 1, ClientRate: 40, Length: 3}, 50 * time.Millisecond, 3 * time.Second, 3 * time.Second},
		{"loosen", &MatrixCell{Kind: "loosen", Limit: 10, ChangeTo: 25, ChangeAt: 30, Bucket: 1, ClientRate: 50, Length: 360}, time.Second, 360 * time.Second, 360 * time.Second},
		{"tighten: first 429 at 40 s", tighten, 40 * time.Second, 120 * time.Second, 130 * time.Second},
	} {
		if got := tc.c.until(tc.firstAt, tc.length); got != tc.wantUntil {
			t.Errorf("%s: runs %v, want %v", tc.name, got, tc.wantUntil)
		}
	}
}
