package webexsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
)

func TestPlantedFaults(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, res response, d Device)
	status := func(code int) check {
		return func(t *testing.T, res response, _ Device) {
			var e webexError
			if res.status != code || json.Unmarshal(res.body, &e) != nil || e.TrackingID == "" {
				t.Fatalf("got %d %s, want %d with a Webex error body", res.status, res.body, code)
			}
		}
	}
	tests := []struct {
		kind  FaultKind
		check check
	}{
		{FaultLocked, func(t *testing.T, res response, d Device) {
			status(423)(t, res, d)
			if got := res.header.Get("Retry-After"); got != "7" {
				t.Fatalf("423 Retry-After %q, want \"7\"", got)
			}
		}},
		{FaultInternal, status(500)},
		{FaultBadGateway, status(502)},
		{FaultUnavailable, status(503)},
		{FaultGatewayTimeout, status(504)},
		{FaultForbidden, status(403)},
		{FaultGone, status(410)},
		{FaultTruncated, func(t *testing.T, res response, d Device) {
			full := appendDetails(nil, &d)
			if res.status != 200 || json.Valid(res.body) || len(res.body) >= len(full) || string(full[:len(res.body)]) != string(res.body) {
				t.Fatalf("want a 200 with a strict prefix of the JSON body, got %d %q", res.status, res.body)
			}
		}},
		{FaultMalformed, func(t *testing.T, res response, _ Device) {
			if res.status != 200 || res.header.Get("Content-Type") != contentTypeJSON || json.Valid(res.body) {
				t.Fatalf("want a 200 claiming JSON with a non-JSON body, got %d %s %q", res.status, res.header.Get("Content-Type"), res.body)
			}
		}},
		{FaultWrongContentType, func(t *testing.T, res response, d Device) {
			if res.status != 200 || res.header.Get("Content-Type") != contentTypeHTML {
				t.Fatalf("want 200 text/html, got %d %s", res.status, res.header.Get("Content-Type"))
			}
			if diff := cmp.Diff(wantDetails(d), decodeMap(t, res.body)); diff != "" {
				t.Fatalf("body should still be the device (-want +got):\n%s", diff)
			}
		}},
		{FaultOversize, func(t *testing.T, res response, d Device) {
			m := decodeMap(t, res.body)
			if res.status != 200 || len(res.body) <= 2<<20 || m["id"] != d.ID {
				t.Fatalf("want a valid 200 body over 2 MiB for %s, got %d, %d bytes, id %v", d.ID, res.status, len(res.body), m["id"])
			}
		}},
		{FaultWrongID, func(t *testing.T, res response, d Device) {
			m := decodeMap(t, res.body)
			if res.status != 200 || m["id"] == d.ID || m["id"] == "" {
				t.Fatalf("want a 200 with another id, got %d id %v", res.status, m["id"])
			}
			m["id"] = d.ID
			if diff := cmp.Diff(wantDetails(d), m); diff != "" {
				t.Fatalf("only the id should differ (-want +got):\n%s", diff)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			s, base := newServer(t, Config{Devices: 3, Seed: 8})
			ids := s.IDs()
			d, _ := s.Device(ids[1])
			// Requests 2 and 3 of device 1 fail; 1 and 4 succeed; others never fail.
			s.SetFault(d.ID, Fault{Kind: tt.kind, Skip: 1, Times: 2, RetryAfter: 7 * time.Second})
			ok := func(id string) {
				t.Helper()
				res := get(t, detailsURL(base, id), DefaultToken)
				want, _ := s.Device(id)
				if res.status != 200 {
					t.Fatalf("unfaulted request got %d", res.status)
				}
				if diff := cmp.Diff(wantDetails(want), decodeMap(t, res.body)); diff != "" {
					t.Fatalf("unfaulted body (-want +got):\n%s", diff)
				}
			}
			ok(d.ID)
			ok(ids[0])
			tt.check(t, get(t, detailsURL(base, d.ID), DefaultToken), d)
			tt.check(t, get(t, detailsURL(base, d.ID), DefaultToken), d)
			ok(d.ID)
			ok(ids[2])
			if got := s.Stats().Faults; !cmp.Equal(got, map[FaultKind]int64{tt.kind: 2}) {
				t.Fatalf("Stats().Faults = %v, want {%s: 2}", got, tt.kind)
			}
			s.SetFault(d.ID, Fault{Kind: tt.kind})
			s.ClearFault(d.ID)
			ok(d.ID)
		})
	}
}

func TestRandomFaults(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 10, Seed: 1, FaultRates: map[FaultKind]float64{FaultUnavailable: 0.3, FaultInternal: 0.2}})
	ids := s.IDs()
	counts := map[int]int{}
	for i := 0; i < 400; i++ {
		counts[get(t, detailsURL(base, ids[i%len(ids)]), DefaultToken).status]++
	}
	// 400 draws at p=0.3, 0.2 and 0.5: these bounds are more than 5 sigma wide.
	for code, want := range map[int]int{503: 120, 500: 80, 200: 200} {
		if got := counts[code]; got < want-50 || got > want+50 {
			t.Errorf("%d x %d, want about %d (all: %v)", got, code, want, counts)
		}
	}
	if got := len(counts); got != 3 {
		t.Errorf("statuses %v, want only 200, 500 and 503", counts)
	}
	if st := s.Stats(); st.Faults[FaultUnavailable] != int64(counts[503]) || st.Faults[FaultInternal] != int64(counts[500]) {
		t.Errorf("Stats().Faults %v disagrees with the statuses seen %v", st.Faults, counts)
	}
}

func TestListFault(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 30})
	s.SetListFault(Fault{Kind: FaultUnavailable, Skip: 1, Times: 1})
	first := get(t, base+"/devices?max=10", DefaultToken)
	if first.status != 200 {
		t.Fatalf("page 1: %d", first.status)
	}
	next := linkRE.FindStringSubmatch(first.header.Get("Link"))[1]
	if got := get(t, next, DefaultToken).status; got != 503 {
		t.Fatalf("page 2: %d, want 503", got)
	}
	if got := get(t, next, DefaultToken).status; got != 200 {
		t.Fatalf("page 2 retried: %d, want 200", got)
	}
	s.SetListFault(Fault{Kind: FaultTruncated})
	if res := get(t, base+"/devices?max=10", DefaultToken); res.status != 200 || json.Valid(res.body) {
		t.Fatalf("truncated listing: %d valid=%v", res.status, json.Valid(res.body))
	}
	s.ClearListFault()
	if res := get(t, base+"/devices?max=10", DefaultToken); !json.Valid(res.body) {
		t.Fatal("listing still faulted after ClearListFault")
	}
}

func TestStallReleasedWhenClientGivesUp(t *testing.T) {
	t.Parallel()
	for _, kind := range []FaultKind{FaultStall, FaultStallAfterHeaders} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s, base := newServer(t, Config{Devices: 1})
			id := s.IDs()[0]
			s.SetFault(id, Fault{Kind: kind, Times: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, detailsURL(base, id), nil)
			req.Header.Set("Authorization", "Bearer "+DefaultToken)
			res, err := testClient.Do(req)
			if kind == FaultStallAfterHeaders {
				if err != nil {
					t.Fatalf("headers should arrive before the stall: %v", err)
				}
				if res.StatusCode != 200 {
					t.Fatalf("status %d, want 200", res.StatusCode)
				}
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the client's deadline", err)
			}
			waitfor.Cond(t, "the stalled handler to return", func() bool { return s.Stats().ActiveStalls == 0 })
			if got := get(t, detailsURL(base, id), DefaultToken).status; got != 200 {
				t.Fatalf("after the stall: %d, want 200", got)
			}
		})
	}
}

func TestStallReleasedByClose(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Devices: 1})
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	id := s.IDs()[0]
	s.SetFault(id, Fault{Kind: FaultStall})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, detailsURL(base, id), nil)
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		res, err := (&http.Client{}).Do(req) // no timeout: only Close can end it
		if err == nil {
			res.Body.Close()
			err = errors.New("got a response " + strconv.Itoa(res.StatusCode))
		}
		done <- err
	}()
	waitfor.Cond(t, "the request to stall", func() bool { return s.Stats().ActiveStalls == 1 })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err == nil {
		t.Fatal("stalled request succeeded after Close")
	}
	if got := s.Stats().ActiveStalls; got != 0 {
		t.Fatalf("ActiveStalls = %d after Close, want 0", got)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond})
	distinct := map[time.Duration]bool{}
	for seq := uint64(1); seq <= 100; seq++ {
		d := s.delay(seq)
		if d < 20*time.Millisecond || d >= 30*time.Millisecond {
			t.Fatalf("delay(%d) = %v, want in [20ms, 30ms)", seq, d)
		}
		distinct[d] = true
	}
	if len(distinct) < 50 {
		t.Fatalf("only %d distinct delays in 100: jitter is not random", len(distinct))
	}
	// Over HTTP the delay is a floor, never a ceiling: that is all we assert.
	_, base := newServer(t, Config{Latency: 30 * time.Millisecond})
	start := time.Now()
	get(t, base+"/devices", DefaultToken)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("request took %v, less than the configured 30ms latency", el)
	}
}
