package fetch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A 503 that says when to come back is retried then, not after the short
// back-off; it pauses only its own request and leaves the rate alone.
func TestServiceUnavailableHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "maintenance")
			return
		}
		writeDevice(w, r)
	})
	// Back-off 10-50 ms: only the Retry-After explains a wait of a second.
	c := newTestClient(t, f.URL, func(o *Options) { o.Limiter = rate.NewLimiter(100, 1) })
	before := c.gov.limit()
	if _, err := c.Device(context.Background(), "DEV1", ""); err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 950*time.Millisecond {
		t.Errorf("retried %v after the 503, want at least its Retry-After (1s)", gap)
	}
	if c.gov.limit() != before || c.pause.active() {
		t.Errorf("a 503 changed the rate (%v -> %v) or paused the client", before, c.gov.limit())
	}
}

// Webex's errorCode is reported beside the tracking ID, in the error and in
// the log line of a retry, whether it is top-level or in errors[].
func TestErrorCodeIsReported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"in errors[]", `{"message":"Device not found","errors":[{"description":"Device not found","errorCode":4008}],"trackingId":"T1"}`, 404,
			"not found (HTTP 404 Not Found): Device not found [trackingId ROUTER_TEST_1, errorCode 4008]"},
		{"top level wins", `{"message":"Forbidden","errorCode":"403001","errors":[{"description":"x","errorCode":7}]}`, 403,
			"forbidden (HTTP 403 Forbidden): Forbidden [trackingId ROUTER_TEST_1, errorCode 403001]"},
		{"none", `{"message":"Gone"}`, 410, "not found (HTTP 410 Gone): Gone [trackingId ROUTER_TEST_1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := newTestClient(t, f.URL, nil).Device(context.Background(), "DEV1", "")
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}

	var logs bytes.Buffer
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"message":"oops","errors":[{"description":"oops","errorCode":1001}]}`)
			return
		}
		writeDevice(w, r)
	})
	c := newTestClient(t, f.URL, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.Device(context.Background(), "DEV1", ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"tracking_id":"ROUTER_TEST_1","error_code":"1001"`) {
		t.Errorf("the retry's log line lacks the errorCode beside the tracking ID:\n%s", logs.String())
	}
}
