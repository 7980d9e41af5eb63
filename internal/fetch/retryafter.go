package fetch

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter interprets a Retry-After header value as a wait from now.
// It accepts delta-seconds (also with surrounding spaces or a fractional
// part) and an HTTP-date. Anything else, such as the "rand(30),add(30)" seen
// from Webex, reports ok=false so that the caller falls back to its own
// back-off instead of crashing or waiting forever. A date in the past is a
// zero wait. The caller caps the result.
func ParseRetryAfter(value string, now time.Time) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		// ParseFloat accepts "NaN", "Inf" and hex floats; only plain
		// non-negative finite numbers are delta-seconds.
		if math.IsNaN(secs) || math.IsInf(secs, 0) || secs < 0 || !isDecimal(v) {
			return 0, false
		}
		if secs > float64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func isDecimal(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}
