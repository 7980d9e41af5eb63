package webexsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStatsCounts(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 5})
	ids := s.IDs()
	for _, id := range ids[:3] {
		get(t, detailsURL(base, id), DefaultToken)
	}
	get(t, detailsURL(base, "missing"), DefaultToken)
	get(t, detailsURL(base, ids[0]), "")
	get(t, base+"/devices?max=2", DefaultToken)
	get(t, base+"/devices?max=2&start=2", DefaultToken)
	get(t, base+"/nothing-here", DefaultToken)
	get(t, simURL(base, "stats"), "") // not counted

	st := s.Stats()
	want := Stats{
		Requests: 8,
		ByStatus: map[int]int64{200: 5, 404: 2, 401: 1},
		Details:  5, List: 2, Other: 1,
		Faults: map[FaultKind]int64{},
	}
	if diff := cmp.Diff(want, st, cmpopts.IgnoreFields(Stats{}, "MaxPerSecond", "MaxPerSlidingSecond", "FirstRequest", "LastRequest")); diff != "" {
		t.Fatalf("Stats() (-want +got):\n%s", diff)
	}
	if st.MaxPerSecond < 1 || st.MaxPerSecond > 8 || st.MaxPerSlidingSecond < st.MaxPerSecond || st.MaxPerSlidingSecond > 8 {
		t.Fatalf("MaxPerSecond %d, MaxPerSlidingSecond %d: want 1 <= per-second <= sliding <= 8", st.MaxPerSecond, st.MaxPerSlidingSecond)
	}
	if st.FirstRequest.IsZero() || st.LastRequest.Before(st.FirstRequest) {
		t.Fatalf("first %v, last %v", st.FirstRequest, st.LastRequest)
	}

	res := get(t, simURL(base, "stats"), "")
	var served Stats
	if err := json.Unmarshal(res.body, &served); err != nil {
		t.Fatalf("decode /_sim/stats %s: %v", res.body, err)
	}
	if diff := cmp.Diff(st, served, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Fatalf("/_sim/stats differs from Stats() (-Stats +served):\n%s", diff)
	}

	if res := post(t, simURL(base, "reset-stats"), nil); res.status != http.StatusNoContent {
		t.Fatalf("reset-stats: %d", res.status)
	}
	if diff := cmp.Diff(Stats{ByStatus: map[int]int64{}, Faults: map[FaultKind]int64{}}, s.Stats()); diff != "" {
		t.Fatalf("after reset (-want +got):\n%s", diff)
	}
	for _, bad := range []struct{ method, path string }{{"POST", "stats"}, {"GET", "churn"}, {"GET", "nope"}} {
		req, _ := http.NewRequest(bad.method, simURL(base, bad.path), strings.NewReader(""))
		res, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("%s /_sim/%s = %d, want an error", bad.method, bad.path, res.StatusCode)
		}
	}
}

func TestStatsWindows(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(5_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name        string
		arrivals    []int // ms after a whole second
		wantSecond  int64
		wantSliding int64
	}{
		{"one second", []int{0, 100, 999}, 3, 3},
		{"straddling a second boundary", []int{600, 700, 800, 1100, 1200}, 3, 5},
		{"more than a second apart", []int{0, 0, 1500, 2600}, 2, 2},
		{"long gap resets the window", []int{0, 10, 20, 60_000}, 3, 3},
		{"arrival stamped just before the current slot", []int{500, 499, 1000}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s stats
			for _, ms := range tt.arrivals {
				s.arrive(at(ms))
			}
			got := s.snapshot()
			if got.MaxPerSecond != tt.wantSecond || got.MaxPerSlidingSecond != tt.wantSliding {
				t.Fatalf("per second %d, sliding %d; want %d, %d", got.MaxPerSecond, got.MaxPerSlidingSecond, tt.wantSecond, tt.wantSliding)
			}
			if !got.FirstRequest.Equal(at(tt.arrivals[0])) {
				t.Fatalf("FirstRequest %v, want %v", got.FirstRequest, at(tt.arrivals[0]))
			}
		})
	}
}

func TestStatsConcurrent(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 20})
	ids := s.IDs()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				get(t, detailsURL(base, ids[i%len(ids)]), DefaultToken)
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Requests != 200 || st.ByStatus[200] != 200 || st.Details != 200 {
		t.Fatalf("after 200 concurrent requests: %+v", st)
	}
}

func TestStartClose(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Devices: 2})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("base URL %q", base)
	}
	if got := get(t, detailsURL(base, s.IDs()[0]), DefaultToken).status; got != 200 {
		t.Fatalf("GET via Start: %d", got)
	}
	if _, err := s.Start(""); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Start(""); err == nil {
		t.Fatal("Start after Close succeeded")
	}
	if _, err := testClient.Get(base + "/devices"); err == nil {
		t.Fatal("server still answers after Close")
	}
}
