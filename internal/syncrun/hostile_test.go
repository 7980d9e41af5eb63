package syncrun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

// Issue 11, items 1 and 2: a redirect to another origin is an error naming
// the location and the token never goes there; a server that echoes the
// Authorization header does not get the token into a log line or a row
// (e.run checks both for every test).
func TestRedirectsAndEchoedTokens(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"stolen"}`))
	}))
	t.Cleanup(other.Close)
	var ids []string
	var throttled atomic.Int64
	e := newEnv(t, envOpts{devices: 20, middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			switch {
			case strings.HasSuffix(r.URL.Path, "/"+ids[0]):
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			case strings.HasSuffix(r.URL.Path, "/"+ids[1]):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"message":"invalid header Authorization: ` + auth + `"}`))
			case strings.HasSuffix(r.URL.Path, "/"+ids[2]):
				w.Header().Set("TrackingID", auth)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				w.Write([]byte(`{"message":"upstream said ` + auth + `"}`))
			case strings.HasSuffix(r.URL.Path, "/"+ids[4]) && throttled.Add(1) == 1:
				// A 429 logged at once, echoing the header everywhere.
				w.Header().Set("TrackingID", auth)
				w.Header().Set("Retry-After", auth)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"message":"slow down ` + auth + `","errorCode":"` + auth + `"}`))
			case strings.HasSuffix(r.URL.Path, "/"+ids[3]) && r.URL.Query().Get("moved") == "":
				http.Redirect(w, r, r.URL.Path+"?moved=1", http.StatusMovedPermanently)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}})
	ids = e.sim.IDs()
	sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 4})
	if sum.Status != store.RunPartial {
		t.Errorf("status %s, want partial", sum.Status)
	}
	rows := readRows(t, e.pool)
	if r := rows[ids[0]]; r.SyncStatus != "error" || r.LastError == nil ||
		!strings.Contains(*r.LastError, other.URL+"/v1/telephony/config/devices/"+ids[0]) || r.Model != nil {
		t.Errorf("redirected device: %s %v model %v; want error naming the location, no details", r.SyncStatus, r.LastError, r.Model)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other origin received %d requests", n)
	}
	for _, id := range ids[1:3] {
		if r := rows[id]; r.SyncStatus != "error" || r.LastError == nil || !strings.Contains(*r.LastError, "[REDACTED]") {
			t.Errorf("echoing device: %s %v; want error with the token redacted", r.SyncStatus, r.LastError)
		}
	}
	if r := rows[ids[4]]; r.SyncStatus != "ok" || !strings.Contains(e.logs.String(), "[REDACTED]") {
		t.Errorf("echoing 429: %s %v; want ok after the pause, the echo logged redacted", r.SyncStatus, r.LastError)
	}
	if r := rows[ids[3]]; r.SyncStatus != "ok" {
		t.Errorf("same-origin redirect: %s %v; want ok (followed)", r.SyncStatus, r.LastError)
	}
}

// Issue 11, item 6: with no answer from Webex, the run stops early, fails
// saying so, and leaves every device as it was.
func TestUnreachableAPIStopsTheRunAndLeavesDevicesAlone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		setup  func(e *env)
		reason string
	}{
		{"connection refused", func(e *env) { e.srv.Close() }, "refused"},
		{"every request times out", nil, "timed out"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{devices: 300, middleware: func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			}, clientOpts: func(o *fetch.Options) { o.RequestTimeout = 100 * time.Millisecond }})
			if tt.setup != nil {
				tt.setup(e)
			}
			sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 8})
			if sum.Status != store.RunFailed || !errors.Is(sum.Err, syncrun.ErrUnreachable) ||
				!strings.Contains(sum.Err.Error(), "Webex API unreachable: ") || !strings.Contains(sum.Err.Error(), tt.reason) {
				t.Errorf("status %s, err %v; want failed, Webex API unreachable: ...%s", sum.Status, sum.Err, tt.reason)
			}
			run := readRun(t, e.pool, sum.RunID)
			if run.Status != "failed" || run.Error == nil || !strings.HasPrefix(*run.Error, "Webex API unreachable: ") {
				t.Errorf("sync_runs row %+v", run)
			}
			var touched int
			if err := e.pool.QueryRow(context.Background(),
				`SELECT count(*) FROM device_inventory WHERE sync_status <> 'pending' OR last_attempt_at IS NOT NULL`).Scan(&touched); err != nil {
				t.Fatal(err)
			}
			if touched != 0 {
				t.Errorf("%d devices touched; an outage is not the devices' fault", touched)
			}
			if sum.Requests > 30 {
				t.Errorf("%d requests sent; the run should stop after a short run of failures", sum.Requests)
			}
		})
	}
}

// Issue 11, item 7: an untrusted certificate stops the run at once.
func TestUntrustedCertificateStopsTheRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{devices: 100, tls: true})
	sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 8})
	if sum.Status != store.RunFailed || !errors.Is(sum.Err, syncrun.ErrCertificate) || !strings.Contains(sum.Err.Error(), "certificate") {
		t.Errorf("status %s, err %v; want failed naming the certificate", sum.Status, sum.Err)
	}
	if sum.Requests > 8 {
		t.Errorf("%d handshakes; the first failure stops the run", sum.Requests)
	}
	rows := readRows(t, e.pool)
	for id, r := range rows {
		if r.SyncStatus != "pending" {
			t.Errorf("device %s: %s; want untouched", id, r.SyncStatus)
		}
	}
}

// Issue 11, item 8: a burst of 429s with "Retry-After: 0" (or a date in
// the past) is one rate cut, not one per 429.
func TestRetryAfterZeroBurstIsOneCut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, retryAfter string }{
		{"zero", "0"},
		{"a date in the past", "Fri, 27 Nov 2020 11:00:00 GMT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			var lim *rate.Limiter
			const rateLimit = 400
			e := newEnv(t, envOpts{devices: 200, clientRate: rateLimit, clientBurst: 10,
				// One request at a time probes whether the fallback pause was
				// long enough, each refusal doubling it up to 32 times its
				// base: a base of 1 ms keeps the 60 refusals within seconds.
				clientOpts: func(o *fetch.Options) { lim = o.Limiter; o.BackoffBase = time.Millisecond },
				middleware: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if n.Add(1) <= 60 { // one burst: the first 60 requests
							w.Header().Set("Retry-After", tt.retryAfter)
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(http.StatusTooManyRequests)
							w.Write([]byte(`{"message":"Too Many Requests"}`))
							return
						}
						next.ServeHTTP(w, r)
					})
				}})
			sum := e.run(t, context.Background(), syncrun.Config{Concurrency: 16})
			if sum.Status != store.RunSucceeded || sum.Throttled < 16 {
				t.Fatalf("status %s, %d throttled; want succeeded after a burst", sum.Status, sum.Throttled)
			}
			// The fallback pauses held the run for a while, and not for
			// longer than it lasted.
			if sum.Paused <= 0 || sum.Paused > sum.Duration {
				t.Errorf("paused %v in a run of %v after %d throttles", sum.Paused, sum.Duration, sum.Throttled)
			}
			// One blind cut takes off a quarter; every further cut would
			// take off another. Climbing back is 0.5% a second at most.
			if got := float64(lim.Limit()); got < rateLimit*0.75 {
				t.Errorf("rate after the burst %.1f; one cut leaves %.1f", got, rateLimit*0.75)
			}
		})
	}
}

// Issue 11, item 9: a payload that is valid JSON but that PostgreSQL cannot
// store as it is (a lone surrogate, 1e999999, invalid UTF-8) is stored
// without the refused value, which is named in a log line; the device is
// ok, run after run.
func TestPayloadPostgreSQLCannotStoreIsStoredWithoutTheRefusedValue(t *testing.T) {
	t.Parallel()
	var ids []string
	inject := map[int]string{
		0: `"bigNumber":1e999999,`,
		1: `"label":"\ud800",`,
		2: "\"label\":\"caf\xe9\",",
		3: `"nested":{"list":[1,1e-99999]},`,
	}
	e := newEnv(t, envOpts{devices: 10, middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i, extra := range inject {
				if strings.HasSuffix(r.URL.Path, "/"+ids[i]) {
					rec := httptest.NewRecorder()
					next.ServeHTTP(rec, r)
					body := strings.Replace(rec.Body.String(), "{", "{"+extra, 1)
					for k, v := range rec.Header() {
						w.Header()[k] = v
					}
					w.Header().Del("Content-Length")
					w.WriteHeader(rec.Code)
					w.Write([]byte(body))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}})
	ids = e.sim.IDs()
	for run := 1; run <= 2; run++ {
		sum := e.run(t, context.Background(), syncrun.Config{})
		// (A second run may fetch none: the listing vouches for them.)
		if sum.Status != store.RunSucceeded || sum.Counts.Failed != 0 || (run == 1 && sum.Counts.OK != 10) {
			t.Fatalf("run %d: status %s, %+v; want every device ok", run, sum.Status, sum.Counts)
		}
	}
	rows := readRows(t, e.pool)
	for _, d := range e.sim.Devices() {
		if diff := cmp.Diff(want(d), rows[d.ID], equateEmpty); diff != "" {
			t.Errorf("device %s (-truth +stored):\n%s", d.ID, diff)
		}
	}
	for i, want := range map[int]string{0: "null", 1: `"\ufffd"`, 2: `"caf\ufffd"`, 3: "[1, null]"} {
		var got string
		q := map[int]string{0: "details->'bigNumber'", 1: "details->'label'", 2: "details->'label'", 3: "details->'nested'->'list'"}[i]
		if err := e.pool.QueryRow(context.Background(), `SELECT (`+q+`)::text FROM devices WHERE device_id = $1`, ids[i]).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want == `"\ufffd"` || want == `"caf\ufffd"` {
			want = strings.ReplaceAll(want, `\ufffd`, "\uFFFD")
		}
		if got != want {
			t.Errorf("device %d: stored %s = %s, want %s", i, q, got, want)
		}
	}
	logs := e.logs.String()
	for _, field := range []string{"details.bigNumber: number 1e999999", "details.label: invalid UTF-8 or a lone UTF-16 surrogate", "details.nested.list[1]: number 1e-99999"} {
		if !strings.Contains(logs, field) {
			t.Errorf("no log line names %q", field)
		}
	}
}
