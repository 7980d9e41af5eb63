package webexsim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter is a token bucket per bearer token. Once a token is refused it stays
// paused until a token would be available: requests sent during the pause earn
// more 429s, as Webex does, instead of sneaking through on a fractional refill.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens      float64
	last        time.Time
	pausedUntil time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

// allow takes a token for bearer token tok, or says how long until one frees up.
func (l *limiter) allow(tok string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[tok]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[tok] = b
	}
	if now.Before(b.pausedUntil) {
		return false, b.pausedUntil.Sub(now)
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	b.pausedUntil = now.Add(wait)
	return false, wait
}

// setRetryAfter spells a wait in the configured form; it never advertises less
// than one second, since Webex never does and "0" would invite a hot loop.
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
	default:
		v = strconv.FormatInt(secs, 10)
	}
	h["Retry-After"] = []string{v}
}
