package webexsim

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateLimitRetryAfterForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		form  RetryAfterForm
		check func(v string, present bool) bool
	}{
		{RetryAfterSeconds, func(v string, ok bool) bool {
			n, err := strconv.Atoi(v)
			return ok && err == nil && n >= 1 && n <= 100
		}},
		{RetryAfterHTTPDate, func(v string, ok bool) bool {
			d, err := http.ParseTime(v)
			return ok && err == nil && d.After(time.Now()) && d.Before(time.Now().Add(101*time.Second))
		}},
		{RetryAfterSpaces, func(v string, ok bool) bool {
			return ok && regexp.MustCompile(`^[0-9]+ seconds$`).MatchString(v)
		}},
		{RetryAfterRand, func(v string, ok bool) bool { return ok && v == "rand(30),add(30)" }},
		{RetryAfterNone, func(_ string, ok bool) bool { return !ok }},
		{RetryAfterZero, func(v string, ok bool) bool { return ok && v == "0" }},
	}
	for _, tt := range tests {
		t.Run(string(tt.form), func(t *testing.T) {
			t.Parallel()
			// One token per 100 s: the second request is refused whatever the machine speed.
			s, base := newServer(t, Config{Devices: 1, RateLimit: 0.01, Burst: 1, RetryAfterForm: tt.form, Tokens: []string{"a", "b"}})
			u := detailsURL(base, s.IDs()[0])
			if got := get(t, u, "a").status; got != 200 {
				t.Fatalf("first request: %d, want 200", got)
			}
			for i := 0; i < 3; i++ { // during the pause every request earns a 429
				res := get(t, u, "a")
				if res.status != http.StatusTooManyRequests {
					t.Fatalf("request %d over the limit: %d, want 429", i+2, res.status)
				}
				v, ok := res.header["Retry-After"]
				val := ""
				if ok {
					val = v[0]
				}
				if !tt.check(val, ok) {
					t.Fatalf("Retry-After %q (present %v) is wrong for form %s", val, ok, tt.form)
				}
			}
			if got := get(t, u, "b").status; got != 200 {
				t.Fatalf("another token's bucket is independent: got %d, want 200", got)
			}
			if st := s.Stats(); st.RateLimited != 3 || st.ByStatus[429] != 3 || st.ByStatus[200] != 2 {
				t.Fatalf("stats: rateLimited %d, byStatus %v; want 3 and {200:2 429:3}", st.RateLimited, st.ByStatus)
			}
		})
	}
}

// The pause semantics, on a synthetic clock.
func TestLimiterPause(t *testing.T) {
	t.Parallel()
	l := newLimiter(2, 2, nil) // 2/s, burst 2
	t0 := time.Unix(1_000, 0)
	steps := []struct {
		at       time.Duration
		wantOK   bool
		wantWait time.Duration
	}{
		{0, true, 0},
		{0, true, 0},
		{100 * time.Millisecond, false, 400 * time.Millisecond}, // 0.2 tokens: 0.8/2 s to go
		{300 * time.Millisecond, false, 200 * time.Millisecond}, // paused: the refill does not count yet
		{499 * time.Millisecond, false, time.Millisecond},
		{500 * time.Millisecond, true, 0},
		{500 * time.Millisecond, false, 500 * time.Millisecond},
		{5 * time.Second, true, 0}, // refilled to the burst, not beyond
		{5 * time.Second, true, 0},
		{5 * time.Second, false, 500 * time.Millisecond},
	}
	for i, st := range steps {
		ok, wait := l.allow("tok", t0.Add(st.at))
		if ok != st.wantOK || (wait-st.wantWait).Abs() > time.Microsecond {
			t.Fatalf("step %d at %v: allow = %v, wait %v; want %v, %v", i, st.at, ok, wait, st.wantOK, st.wantWait)
		}
	}
}

// What a bucket holds, read without taking a token.
func TestLimiterTokensAt(t *testing.T) {
	t.Parallel()
	l := newLimiter(2, 10, nil) // 2/s, bucket 10
	t0 := time.Unix(1_000, 0)
	if got := l.tokensAt(t0); got != 10 {
		t.Fatalf("before any request: %v tokens, want the bucket's 10", got)
	}
	for range 8 {
		l.allow("tok", t0)
	}
	for _, st := range []struct {
		at   time.Duration
		want float64
	}{{0, 2}, {time.Second, 4}, {500 * time.Millisecond, 3}, {time.Minute, 10}} {
		if got := l.tokensAt(t0.Add(st.at)); math.Abs(got-st.want) > 1e-9 {
			t.Errorf("%v after 8 of 10 taken at 2/s: %v tokens, want %v", st.at, got, st.want)
		}
	}
	if off := newLimiter(0, 0, nil); off.tokensAt(t0) != 0 {
		t.Errorf("no limit: %v tokens, want 0", off.tokensAt(t0))
	}
}

func TestSetRetryAfterRounding(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	tests := []struct {
		form RetryAfterForm
		wait time.Duration
		want string
	}{
		{RetryAfterSeconds, 1500 * time.Millisecond, "2"},
		{RetryAfterSeconds, 10 * time.Millisecond, "1"},
		{RetryAfterSpaces, 3 * time.Second, "3 seconds"},
		{RetryAfterHTTPDate, 1500 * time.Millisecond, "Fri, 02 Jan 2026 03:04:08 GMT"}, // 03:04:07.1 rounded up
	}
	for _, tt := range tests {
		h := http.Header{}
		setRetryAfter(h, tt.form, tt.wait, now)
		if got := h.Get("Retry-After"); got != tt.want {
			t.Errorf("%s %v: Retry-After %q, want %q", tt.form, tt.wait, got, tt.want)
		}
	}
}

// A schedule, on a synthetic clock: its steps count from the first request,
// apply from their moment on (never backwards), and a smaller bucket loses
// the tokens above it.
func TestLimiterSchedule(t *testing.T) {
	t.Parallel()
	l := newLimiter(10, 20, []RateStep{{At: 10 * time.Second, Rate: 2, Burst: 1}, {At: 20 * time.Second, Rate: 5}})
	t0 := time.Unix(1_000, 0)
	type step struct {
		at       time.Duration
		n        int // requests at that moment
		accepted int // of which accepted
	}
	for i, st := range []step{
		{0, 25, 20},                     // the bucket of 20, and the clock starts
		{2 * time.Second, 25, 20},       // 2 s at 10/s refilled it
		{9500 * time.Millisecond, 1, 1}, // 7.5 s at 10/s: full (20)
		// The drop at 10 s: the bucket was full, and shrinks to 1.
		{10 * time.Second, 3, 1},
		{10600 * time.Millisecond, 2, 1}, // 0.6 s at 2/s: 1.2, capped at 1
		{11 * time.Second, 1, 0},         // 0.4 s at 2/s: 0.8 of a token
		// The rise at 20 s keeps the bucket size 1 (Burst 0): 9 s at 2/s
		// then 0.2 s at 5/s refill it to 1, not more.
		{20200 * time.Millisecond, 2, 1},
		{20400 * time.Millisecond, 1, 1}, // 0.2 s at 5/s
	} {
		got := 0
		for range st.n {
			if ok, _ := l.allow("tok", t0.Add(st.at)); ok {
				got++
			}
		}
		if got != st.accepted {
			t.Fatalf("step %d at %v: %d of %d accepted, want %d", i, st.at, got, st.n, st.accepted)
		}
	}
	want := RateLimitState{Rate: 5, Burst: 1}
	if got := l.state(); got.Rate != want.Rate || got.Burst != want.Burst || len(got.Pending) != 0 {
		t.Fatalf("state after the schedule: %+v, want %+v", got, want)
	}
}

func TestParseRateSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    []RateStep
		wantErr string
	}{
		{"", nil, ""},
		{"30s=10", []RateStep{{At: 30 * time.Second, Rate: 10}}, ""},
		{" 30s=10 , 5m=25/20", []RateStep{{At: 30 * time.Second, Rate: 10}, {At: 5 * time.Minute, Rate: 25, Burst: 20}}, ""},
		{"30s=0.5/1", []RateStep{{At: 30 * time.Second, Rate: 0.5, Burst: 1}}, ""},
		{"30s", nil, "want AT=RATE"},
		{"soon=10", nil, "not a duration"},
		{"30s=fast", nil, "not a number"},
		{"30s=10/big", nil, "not a whole number"},
		{"30s=0", nil, "rate must be"},
		{"30s=-2", nil, "rate must be"},
		{"30s=10/-1", nil, "burst must be"},
		{"1m=10,30s=20", nil, "increasing order"},
		{"-1s=10", nil, "at must be"},
	}
	for _, tt := range tests {
		got, err := ParseRateSchedule(tt.spec)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseRateSchedule(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseRateSchedule(%q): %v", tt.spec, err)
		case tt.wantErr == "" && !slices.Equal(got, tt.want):
			t.Errorf("ParseRateSchedule(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

// The control endpoint changes the limit of a serving simulator at once,
// and says what is in force.
func TestRateLimitControl(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 1, RateLimit: 0.01, Burst: 1,
		RateSchedule: []RateStep{{At: time.Hour, Rate: 3}}})
	u := detailsURL(base, s.IDs()[0])
	if got := get(t, u, DefaultToken).status; got != 200 {
		t.Fatalf("first request: %d, want 200", got)
	}
	if got := get(t, u, DefaultToken).status; got != http.StatusTooManyRequests {
		t.Fatalf("second request at 0.01/s: %d, want 429", got)
	}
	var st RateLimitState
	res := get(t, simURL(base, "rate-limit"), "")
	if err := json.Unmarshal(res.body, &st); err != nil || st.Rate != 0.01 || st.Burst != 1 || !slices.Equal(st.Pending, []RateStep{{At: time.Hour, Rate: 3}}) {
		t.Fatalf("GET rate-limit: %d %s (%v)", res.status, res.body, err)
	}
	// Lifting the limit lets everything through, the paused token too.
	if res := post(t, simURL(base, "rate-limit"), map[string]any{"rate": 0}); res.status != 200 {
		t.Fatalf("POST rate 0: %d %s", res.status, res.body)
	}
	for i := range 5 {
		if got := get(t, u, DefaultToken).status; got != 200 {
			t.Fatalf("request %d without a limit: %d", i, got)
		}
	}
	// A strict limit again: one request, then 429s.
	res = post(t, simURL(base, "rate-limit"), map[string]any{"rate": 0.01, "burst": 1})
	if err := json.Unmarshal(res.body, &st); err != nil || st.Rate != 0.01 || st.Burst != 1 {
		t.Fatalf("POST rate 0.01 burst 1: %d %s", res.status, res.body)
	}
	if a, b := get(t, u, DefaultToken).status, get(t, u, DefaultToken).status; a != 200 || b != http.StatusTooManyRequests {
		t.Fatalf("after the limit came back: %d then %d, want 200 then 429", a, b)
	}
	for _, bad := range []struct {
		body any
		want string
	}{
		{map[string]any{"burst": 2}, `"rate" is required`},
		{map[string]any{"rate": -1}, "must be a finite number >= 0"},
		{map[string]any{"rate": 2, "burst": -1}, "burst -1"},
		{map[string]any{"rate": 2, "bucket": 3}, "unknown field"},
		{"ten", "cannot unmarshal"},
	} {
		res := post(t, simURL(base, "rate-limit"), bad.body)
		var e webexError
		if res.status != http.StatusBadRequest || json.Unmarshal(res.body, &e) != nil || !strings.Contains(e.Message, bad.want) {
			t.Errorf("POST %v: %d %s, want 400 naming %q", bad.body, res.status, res.body, bad.want)
		}
	}
	if s.Stats().Requests != 5+4 {
		t.Errorf("the /_sim requests were counted: %d /v1 requests, want 9", s.Stats().Requests)
	}
}
