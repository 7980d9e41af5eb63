package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

const testToken = "s3cret-token-value"

// fakeWebex is an httptest server whose handler the test chooses, recording
// every request it receives.
type fakeWebex struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	at          time.Time
	escapedPath string
	query       string
	auth        string
}

func newFakeWebex(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *fakeWebex {
	t.Helper()
	f := &fakeWebex{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, recorded{at: time.Now(), escapedPath: r.URL.EscapedPath(), query: r.URL.RawQuery, auth: r.Header.Get("Authorization")})
		n := len(f.requests)
		f.mu.Unlock()
		w.Header().Set("TrackingID", fmt.Sprintf("ROUTER_TEST_%d", n))
		h(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeWebex) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func deviceJSON(id string) string {
	return fmt.Sprintf(`{"id":%q,"model":"DMS Cisco 8811","ip":"10.0.0.1","mac":"11223344AAFF","upgradeChannelEnabled":"true"}`, id)
}

func writeDevice(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/telephony/config/devices/")
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	fmt.Fprint(w, deviceJSON(id))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q,"errors":[{"description":%q}],"trackingId":"BODY_TRACKING"}`, msg, msg)
}

func newTestClient(t *testing.T, base string, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{
		BaseURL:        base + "/v1",
		Tokens:         StaticToken(testToken),
		Limiter:        rate.NewLimiter(rate.Inf, 1),
		MaxAttempts:    3,
		RequestTimeout: 2 * time.Second,
		BackoffBase:    10 * time.Millisecond,
		BackoffMax:     50 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeviceSuccessAndEscaping(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeDevice(w, r) })
	c := newTestClient(t, f.URL, nil)
	for _, tt := range []struct {
		name, id, org, wantPath, wantQuery string
	}{
		{"plain base64", "Y2lzY29zcGFyazovL3Vz", "", "/v1/telephony/config/devices/Y2lzY29zcGFyazovL3Vz", ""},
		{"traversal attempt", "../../people/me", "", "/v1/telephony/config/devices/..%2F..%2Fpeople%2Fme", ""},
		{"query injection", "abc?orgId=evil&x=1", "ORG", "/v1/telephony/config/devices/abc%3ForgId=evil&x=1", "orgId=ORG"},
		{"base64 specials", "a+b/c==", "o/r g", "/v1/telephony/config/devices/a+b%2Fc==", "orgId=o%2Fr+g"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.recorded())
			_, err := c.Device(context.Background(), tt.id, tt.org)
			reqs := f.recorded()
			if len(reqs) != before+1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs)-before)
			}
			got := reqs[len(reqs)-1]
			if got.escapedPath != tt.wantPath || got.query != tt.wantQuery {
				t.Errorf("request = %s?%s, want %s?%s", got.escapedPath, got.query, tt.wantPath, tt.wantQuery)
			}
			if got.auth != "Bearer "+testToken {
				t.Errorf("Authorization = %q", got.auth)
			}
			// The fake echoes the unescaped path segment as the id; the
			// client must accept its own device back.
			if err != nil {
				t.Errorf("Device(%q): %v", tt.id, err)
			}
		})
	}
}

func TestDeviceRejectsMalformedIDWithoutRequest(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeDevice(w, r) })
	c := newTestClient(t, f.URL, nil)
	for _, id := range []string{"", ".", "..", "a b", "a\nb", "a\x00b", strings.Repeat("x", 1025)} {
		_, err := c.Device(context.Background(), id, "")
		if KindOf(err) != KindRequest {
			t.Errorf("Device(%q) err = %v, want a bad-request error", id, err)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("server saw %d requests for malformed IDs, want 0", n)
	}
}

func TestDeviceErrorStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		wantKind     Kind
		wantRequests int
	}{
		{"404 not found", 404, KindNotFound, 1},
		{"410 gone", 410, KindNotFound, 1},
		{"403 forbidden", 403, KindForbidden, 1},
		{"401 unauthorized", 401, KindUnauthorized, 1},
		{"400 bad request", 400, KindRequest, 1},
		{"500 retried to the limit", 500, KindTransient, 3},
		{"502 retried to the limit", 502, KindTransient, 3},
		{"503 retried to the limit", 503, KindTransient, 3},
		{"504 retried to the limit", 504, KindTransient, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				writeError(w, tt.status, "simulated failure")
			})
			c := newTestClient(t, f.URL, nil)
			_, err := c.Device(context.Background(), "DEV1", "")
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if fe.Kind != tt.wantKind || fe.Status != tt.status {
				t.Errorf("kind, status = %v, %d; want %v, %d", fe.Kind, fe.Status, tt.wantKind, tt.status)
			}
			if fe.TrackingID != fmt.Sprintf("ROUTER_TEST_%d", tt.wantRequests) {
				t.Errorf("tracking ID = %q, want the last response's header", fe.TrackingID)
			}
			if !strings.Contains(fe.Error(), "simulated failure") || !strings.Contains(fe.Error(), fe.TrackingID) {
				t.Errorf("error %q lacks the Webex message or tracking ID", fe.Error())
			}
			if strings.Contains(fe.Error(), testToken) {
				t.Errorf("error %q contains the token", fe.Error())
			}
			if n := len(f.recorded()); n != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestDeviceTransientThenSuccess(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			writeError(w, []int{503, 502}[n-1], "try later")
			return
		}
		writeDevice(w, r)
	})
	c := newTestClient(t, f.URL, nil)
	d, err := c.Device(context.Background(), "DEV1", "")
	if err != nil {
		t.Fatalf("Device: %v", err)
	}
	if d.ID != "DEV1" || len(f.recorded()) != 3 {
		t.Errorf("got %q after %d requests, want DEV1 after 3", d.ID, len(f.recorded()))
	}
	if s := c.Stats(); s.Retries != 2 || s.Requests != 3 {
		t.Errorf("stats = %+v, want 3 requests, 2 retries", s)
	}
}

func TestDeviceBadPayloads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		wantMsg string
	}{
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "<html>Service Unavailable</html>")
		}, "decode device details"},
		{"truncated JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, deviceJSON("DEV1")[:30])
		}, "decode device details"},
		{"wrong content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, deviceJSON("DEV1"))
		}, `content type "text/html" is not JSON`},
		{"oversize body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"DEV1","description":["%s"]}`, strings.Repeat("x", 2<<20))
		}, "exceeds 1048576 bytes"},
		{"another device's id", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, deviceJSON("OTHER"))
		}, `response is for device "OTHER"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) { tt.handler(w, r) })
			c := newTestClient(t, f.URL, nil)
			_, err := c.Device(context.Background(), "DEV1", "")
			if KindOf(err) != KindBadPayload || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want a bad payload error containing %q", err, tt.wantMsg)
			}
			if n := len(f.recorded()); n != 1 {
				t.Errorf("server saw %d requests; a bad payload is not retried", n)
			}
		})
	}
}

func TestDeviceTimeoutIsRetriedThenFails(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var stalled atomic.Int64
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if !strings.HasSuffix(r.URL.Path, "/DEV1") {
			writeDevice(w, r)
			return
		}
		stalled.Add(1)
		select { // stall until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, f.URL, func(o *Options) { o.RequestTimeout = 50 * time.Millisecond; o.MaxAttempts = 2 })
	// Other devices answer meanwhile: the API is up, DEV1 is at fault.
	done := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			c.Device(context.Background(), fmt.Sprintf("OK%d", i), "")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := c.Device(context.Background(), "DEV1", "")
	close(done)
	if KindOf(err) != KindTransient || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a transient timeout", err)
	}
	if n := stalled.Load(); n != 2 {
		t.Errorf("server saw %d requests for DEV1, want 2", n)
	}
}

// With no answer at all, a device is not given up for its own timeouts: the
// API is unreachable, and after UnreachableAfter requests in a row without
// an answer, every request fails at once saying so.
func TestNoAnswerAtAllMakesTheClientUnreachable(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {})
	f.Close() // connection refused from now on
	c := newTestClient(t, f.URL, func(o *Options) { o.MaxAttempts = 2; o.UnreachableAfter = 5 })
	_, err := c.Device(context.Background(), "DEV1", "")
	if KindOf(err) != KindUnreachable || !strings.Contains(err.Error(), "Webex API unreachable") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want unreachable naming the cause", err)
	}
	if n := c.Stats().Requests; n != 5 {
		t.Errorf("%d requests sent, want 5 (UnreachableAfter)", n)
	}
	_, err = c.Device(context.Background(), "DEV2", "")
	if KindOf(err) != KindUnreachable {
		t.Errorf("next device: err = %v, want unreachable at once", err)
	}
	if n := c.Stats().Requests; n != 5 {
		t.Errorf("%d requests sent; none after the API was found unreachable", n)
	}
}

func TestThrottlePausesWholeClient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		retryAfter func() string // evaluated when the 429 is sent
		minPause   time.Duration
	}{
		{"delta seconds", func() string { return "1" }, 950 * time.Millisecond},
		// Two seconds ahead at one-second resolution: at least one second.
		{"http date", func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 900 * time.Millisecond},
		{"rand expression falls back", func() string { return "rand(30),add(30)" }, 95 * time.Millisecond},
		{"absent falls back", func() string { return "" }, 95 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var throttledAt atomic.Int64
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					if v := tt.retryAfter(); v != "" {
						w.Header().Set("Retry-After", v)
					}
					throttledAt.Store(time.Now().UnixNano())
					writeError(w, http.StatusTooManyRequests, "slow down")
					return
				}
				writeDevice(w, r)
			})
			// Backoff base 50ms: the fallback pause is 4×base, jittered to [100ms, 200ms).
			c := newTestClient(t, f.URL, func(o *Options) { o.BackoffBase = 50 * time.Millisecond })
			if _, err := c.Device(context.Background(), "FIRST", ""); err != nil {
				t.Fatalf("throttled device: %v", err)
			}
			// Other workers start while the pause is in force; none of
			// their requests may arrive before it ends.
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.Device(context.Background(), fmt.Sprintf("DEV%d", i), ""); err != nil {
						t.Errorf("device %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			reqs := f.recorded()
			if len(reqs) != 6 {
				t.Fatalf("server saw %d requests, want 6 (one 429, then 5 successes)", len(reqs))
			}
			at := time.Unix(0, throttledAt.Load())
			for _, r := range reqs[1:] {
				if gap := r.at.Sub(at); gap < tt.minPause {
					t.Errorf("request %s arrived %v after the 429; the pause is at least %v", r.escapedPath, gap, tt.minPause)
				}
			}
			if s := c.Stats(); s.Throttled != 1 || s.Paused < tt.minPause || s.Paused > reqs[len(reqs)-1].at.Sub(at) {
				t.Errorf("throttled = %d, paused %v; want 1, and a pause of at least %v that ended before the last request",
					s.Throttled, s.Paused, tt.minPause)
			}
		})
	}
}

// The pause time counts each moment once, however many throttles overlap,
// and counts no part of a pause still to come.
func TestPausedCountsOverlapsOnce(t *testing.T) {
	t.Parallel()
	var p pauseGate
	if ok, _ := p.extend(time.Hour); !ok {
		t.Fatal("a first pause must extend")
	}
	if ok, _ := p.extend(time.Minute); ok {
		t.Error("a pause inside the current one must not extend it")
	}
	if p.total != time.Hour {
		t.Errorf("total %v after an hour's pause and a minute's inside it, want 1h", p.total)
	}
	if d := p.paused(); d < 0 || d > time.Minute {
		t.Errorf("paused %v at the start of an hour's pause; the hour to come does not count yet", d)
	}
	before := time.Now()
	p.extend(2 * time.Hour)
	if p.total < 2*time.Hour || p.total > 2*time.Hour+time.Since(before)+time.Second {
		t.Errorf("total %v after extending an hour's pause to two hours, want 2h (plus the moments between the calls)", p.total)
	}
	// A pause that has passed counts whole.
	p = pauseGate{total: 3 * time.Second, until: time.Now().Add(-time.Second)}
	if d := p.paused(); d != 3*time.Second {
		t.Errorf("paused %v after pauses of 3s that have ended, want 3s", d)
	}
}

func TestThrottleGivesUpAfterMaxThrottled(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "0")
		writeError(w, http.StatusLocked, "locked")
	})
	c := newTestClient(t, f.URL, func(o *Options) { o.MaxThrottled = 4 })
	_, err := c.Device(context.Background(), "DEV1", "")
	if KindOf(err) != KindRateLimited {
		t.Fatalf("err = %v, want rate limited", err)
	}
	if n := len(f.recorded()); n != 4 {
		t.Errorf("server saw %d requests, want 4", n)
	}
}

func TestTokenFileRotation(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.Header.Get("Authorization") != "Bearer new-token" {
			writeError(w, http.StatusUnauthorized, "The request requires a valid access token")
			return
		}
		writeDevice(w, r)
	})
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("old-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := NewFileToken(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, f.URL, func(o *Options) { o.Tokens = tokens })

	// Before rotation: one re-read finds the same token, so the 401 stands.
	_, err = c.Device(context.Background(), "DEV1", "")
	if KindOf(err) != KindUnauthorized || strings.Contains(err.Error(), "old-token") {
		t.Fatalf("err = %v, want unauthorized without the token in it", err)
	}
	if err := os.WriteFile(path, []byte("new-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Device(context.Background(), "DEV2", ""); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	reqs := f.recorded()
	if len(reqs) != 3 || reqs[1].auth != "Bearer old-token" || reqs[2].auth != "Bearer new-token" {
		t.Errorf("requests = %+v; want old, old, new token", reqs)
	}
}

func TestLimiterBoundsRateAcrossWorkers(t *testing.T) {
	t.Parallel()
	const perSecond, burst = 20, 2
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n%5 == 0 { // retries must be paced too
			writeError(w, 503, "again")
			return
		}
		writeDevice(w, r)
	})
	c := newTestClient(t, f.URL, func(o *Options) { o.Limiter = rate.NewLimiter(perSecond, burst) })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 4 {
				if _, err := c.Device(context.Background(), fmt.Sprintf("D%d-%d", i, j), ""); err != nil {
					t.Errorf("device: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	reqs := f.recorded()
	if len(reqs) < 32 {
		t.Fatalf("server saw %d requests, want at least 32", len(reqs))
	}
	for i := range reqs {
		n := 0
		for j := i; j < len(reqs) && reqs[j].at.Sub(reqs[i].at) < time.Second; j++ {
			n++
		}
		if n > perSecond+burst {
			t.Fatalf("%d requests within one second starting at request %d; the limit is %d", n, i, perSecond+burst)
		}
	}
}

func TestValidateBaseURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://webexapis.com/v1", true},
		{"http://127.0.0.1:8089/v1", true},
		{"http://localhost:8089/v1", true},
		{"http://[::1]:8089/v1", true},
		{"http://webexapis.com/v1", false},
		{"http://10.0.0.5/v1", false},
		{"ftp://webexapis.com/v1", false},
		{"https://user:pw@webexapis.com/v1", false},
		{"https:///v1", false},
		{"webexapis.com/v1", false},
		{"https://webexapis.com/v1?x=1", false},
	} {
		err := ValidateBaseURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateBaseURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error %q echoes credentials", err)
		}
	}
}
