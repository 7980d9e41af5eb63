package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The throttle warning says in words how long the pause is and the rate
// the client sends at afterwards, beside the same figures as attributes.
func TestThrottleWarningSaysPauseAndNewRate(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "slow down")
			return
		}
		writeDevice(w, r)
	})
	var mu sync.Mutex
	var logs bytes.Buffer
	c := newTestClient(t, f.URL, func(o *Options) {
		o.Limiter = rate.NewLimiter(20, 1)
		o.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &logs}, nil))
	})
	if _, err := c.Device(context.Background(), "FIRST", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var warn map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == "WARN" {
			warn = m
		}
	}
	if warn == nil {
		t.Fatalf("no throttle warning in:\n%s", logs.String())
	}
	msg, _ := warn["msg"].(string)
	rateNow, _ := warn["rate_now"].(float64)
	if rateNow <= 0 || rateNow >= 20 {
		t.Fatalf("rate_now %v: want the cut rate, below 20/s", warn["rate_now"])
	}
	for _, want := range []string{"pausing all requests for 1s", "requests/s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q does not say %q", msg, want)
		}
	}
	if got := throttleMessage(time.Second, rateNow); msg != got {
		t.Errorf("message %q, want %q (the rate in force after the cut)", msg, got)
	}
}

func TestThrottleMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pause time.Duration
		rate  float64
		want  string
	}{
		{2 * time.Second, 3.75, "Webex is throttling: pausing all requests for 2s, then sending at 3.75 requests/s"},
		{1234567 * time.Microsecond, 0.5, "Webex is throttling: pausing all requests for 1.23s, then sending at 0.50 requests/s"},
		{time.Second, float64(rate.Inf), "Webex is throttling: pausing all requests for 1s, then sending with no rate limit"},
	} {
		if got := throttleMessage(tc.pause, tc.rate); got != tc.want {
			t.Errorf("throttleMessage(%v, %v) = %q, want %q", tc.pause, tc.rate, got, tc.want)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
