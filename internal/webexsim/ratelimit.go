package webexsim

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RateStep changes the rate limit while the simulator serves: Webex's
// limits "change without notice", and a client must follow one that drops
// or rises mid-run.
type RateStep struct {
	// At is when the step takes effect, counted from the first /v1 request
	// the simulator received (so that a schedule means the same whatever
	// the set-up before the run took).
	At time.Duration `json:"at"`
	// Rate is the new sustained rate per token, requests per second (> 0).
	Rate float64 `json:"rate"`
	// Burst is the new bucket size; 0 keeps the bucket size in force.
	Burst int `json:"burst,omitempty"`
}

func (s RateStep) String() string {
	v := s.At.String() + "=" + strconv.FormatFloat(s.Rate, 'g', -1, 64)
	if s.Burst > 0 {
		v += "/" + strconv.Itoa(s.Burst)
	}
	return v
}

// ParseRateSchedule reads a schedule spelt AT=RATE[/BURST], comma-separated,
// AT a Go duration from the first request: "30s=10" drops the limit to 10/s
// 30 s into the run; "30s=10,5m=25/20" then raises it to 25/s with a bucket
// of 20 at 5 minutes. The empty string is no schedule.
func ParseRateSchedule(spec string) ([]RateStep, error) {
	var steps []RateStep
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		at, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("rate schedule step %q: want AT=RATE[/BURST], e.g. 30s=10 or 2m=25/5", part)
		}
		var st RateStep
		d, err := time.ParseDuration(strings.TrimSpace(at))
		if err != nil {
			return nil, fmt.Errorf("rate schedule step %q: %q is not a duration", part, at)
		}
		st.At = d
		r, b, hasBurst := strings.Cut(val, "/")
		if st.Rate, err = strconv.ParseFloat(strings.TrimSpace(r), 64); err != nil {
			return nil, fmt.Errorf("rate schedule step %q: rate %q is not a number", part, r)
		}
		if hasBurst {
			if st.Burst, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
				return nil, fmt.Errorf("rate schedule step %q: burst %q is not a whole number", part, b)
			}
		}
		steps = append(steps, st)
	}
	return steps, validateSchedule(steps)
}

// validateSchedule reports every bad step of a schedule.
func validateSchedule(steps []RateStep) error {
	var errs []error
	for i, st := range steps {
		if st.At < 0 {
			errs = append(errs, fmt.Errorf("rate step %d (%s): at must be >= 0", i+1, st))
		}
		if i > 0 && st.At <= steps[i-1].At {
			errs = append(errs, fmt.Errorf("rate step %d (%s): steps must be in increasing order of time", i+1, st))
		}
		if !(st.Rate > 0) || math.IsInf(st.Rate, 0) {
			errs = append(errs, fmt.Errorf("rate step %d (%s): rate must be a finite number > 0", i+1, st))
		}
		if st.Burst < 0 {
			errs = append(errs, fmt.Errorf("rate step %d (%s): burst must be >= 0", i+1, st))
		}
	}
	return errors.Join(errs...)
}

// RateLimitState is the rate limit in force.
type RateLimitState struct {
	Rate  float64 `json:"rate"`  // requests per second per token; 0: unlimited
	Burst int     `json:"burst"` // bucket size
	// Pending are the schedule's steps still to come.
	Pending []RateStep `json:"pending,omitempty"`
}

// limiter is a token bucket per bearer token. Once a token is refused it stays
// paused until a token would be available: requests sent during the pause earn
// more 429s, as Webex does, instead of sneaking through on a fractional refill.
// Its rate and bucket size may change while it serves, by a schedule or by
// set.
type limiter struct {
	// on is false while there is no limit and no schedule: the unlimited
	// benchmarks take no lock.
	on atomic.Bool

	mu       sync.Mutex
	rate     float64 // 0: unlimited
	burst    float64
	start    time.Time // first request; the schedule's clock
	schedule []RateStep
	buckets  map[string]*bucket
}

type bucket struct {
	tokens      float64
	last        time.Time
	pausedUntil time.Time
}

func newLimiter(rate float64, burst int, schedule []RateStep) *limiter {
	l := &limiter{rate: rate, burst: float64(burst), schedule: schedule, buckets: make(map[string]*bucket)}
	l.on.Store(rate > 0 || len(schedule) > 0)
	return l
}

// allow takes a token for bearer token tok, or says how long until one frees up.
func (l *limiter) allow(tok string, now time.Time) (bool, time.Duration) {
	if !l.on.Load() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() {
		l.start = now
	}
	for len(l.schedule) > 0 && !now.Before(l.start.Add(l.schedule[0].At)) {
		st := l.schedule[0]
		l.schedule = l.schedule[1:]
		l.setLocked(l.start.Add(st.At), st.Rate, st.Burst)
	}
	if l.rate <= 0 {
		return true, 0
	}
	b := l.buckets[tok]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[tok] = b
	}
	if now.Before(b.pausedUntil) {
		return false, b.pausedUntil.Sub(now)
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	b.pausedUntil = now.Add(wait)
	return false, wait
}

// refill adds the tokens earned since b.last at the rate in force. l.mu is held.
func (l *limiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el.Seconds()*l.rate)
		b.last = now
	}
}

// set changes the limit from now on: rate 0 lifts it; burst 0 keeps the
// bucket size (ceil(rate) when there was none).
func (l *limiter) set(now time.Time, rate float64, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLocked(now, rate, burst)
	l.on.Store(l.rate > 0 || len(l.schedule) > 0)
}

// setLocked changes the limit at moment at. Every bucket is first refilled
// to at under the old limit, so that the change does not apply backwards;
// tokens above the new bucket size are lost. A bucket that was not limited
// before starts full. A pause, which lasts until the next token under the
// old limit, ends: the next request finds out under the new one. l.mu is
// held.
func (l *limiter) setLocked(at time.Time, rate float64, burst int) {
	was := l.rate
	for _, b := range l.buckets {
		if was > 0 {
			l.refill(b, at)
		} else {
			b.tokens, b.last = math.Inf(1), at
		}
		b.pausedUntil = time.Time{}
	}
	l.rate = rate
	switch {
	case burst > 0:
		l.burst = float64(burst)
	case l.burst < 1 && rate > 0:
		l.burst = math.Max(1, math.Ceil(rate))
	}
	for _, b := range l.buckets {
		b.tokens = math.Min(b.tokens, l.burst)
	}
}

// state is the limit in force and the steps still to come.
func (l *limiter) state() RateLimitState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := RateLimitState{Rate: l.rate, Burst: int(l.burst), Pending: append([]RateStep(nil), l.schedule...)}
	if l.rate <= 0 {
		st.Burst = 0
	}
	return st
}

// SetRateLimit changes the rate limit from now on, for every token: rate
// requests per second (0 lifts the limit), with a bucket of burst (0 keeps
// the bucket size in force, or ceil(rate) when there was none). Tokens
// above a smaller bucket are lost; a schedule's later steps still apply.
func (s *Sim) SetRateLimit(rate float64, burst int) error {
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return fmt.Errorf("webexsim: rate limit %v: must be a finite number >= 0", rate)
	}
	if burst < 0 {
		return fmt.Errorf("webexsim: burst %d: must be >= 0", burst)
	}
	s.limiter.set(time.Now(), rate, burst)
	return nil
}

// RateLimit returns the rate limit in force.
func (s *Sim) RateLimit() RateLimitState { return s.limiter.state() }

// BucketTokens is how many tokens the fullest bucket holds now, refilled
// to now at the rate in force (a schedule's step due since the last
// request not yet applied); a bucket of the configured size when no token
// has one yet, and 0 when there is no limit. The benchmark's pacing matrix
// reads it for what the server could still accept.
func (s *Sim) BucketTokens() float64 { return s.limiter.tokensAt(time.Now()) }

// tokensAt is BucketTokens at now.
func (l *limiter) tokensAt(now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return 0
	}
	if len(l.buckets) == 0 {
		return l.burst
	}
	most := 0.0
	for _, b := range l.buckets {
		t := b.tokens
		if el := now.Sub(b.last); el > 0 {
			t = math.Min(l.burst, t+el.Seconds()*l.rate)
		}
		most = math.Max(most, t)
	}
	return most
}

// setRetryAfter spells a wait in the configured form; it never advertises less
// than one second, since Webex never does and "0" would invite a hot loop,
// unless the form is RetryAfterZero, whose point is that.
func setRetryAfter(h http.Header, form RetryAfterForm, wait time.Duration, now time.Time) {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	var v string
	switch form {
	case RetryAfterNone:
		return
	case RetryAfterHTTPDate:
		// Round up: an HTTP-date has whole seconds, and a client that waits
		// until the date it was given must find a token.
		until := now.Add(max(wait, time.Second))
		t := until.Truncate(time.Second)
		if t.Before(until) {
			t = t.Add(time.Second)
		}
		v = t.UTC().Format(http.TimeFormat)
	case RetryAfterSpaces:
		v = strconv.FormatInt(secs, 10) + " seconds"
	case RetryAfterRand:
		v = "rand(30),add(30)"
	case RetryAfterZero:
		v = "0"
	default:
		v = strconv.FormatInt(secs, 10)
	}
	h["Retry-After"] = []string{v}
}
