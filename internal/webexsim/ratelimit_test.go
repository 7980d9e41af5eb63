package webexsim

import (
	"net/http"
	"regexp"
	"strconv"
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
	l := newLimiter(2, 2) // 2/s, burst 2
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
