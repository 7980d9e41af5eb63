package webexsim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// vendorOrder is the key order of the vendor page's example body.
var vendorOrder = []string{"managedBy", "owner", "proxy", "manufacturer", "id", "ip", "mac", "model", "activationState", "description", "upgradeChannelEnabled"}

func TestDetailsShape(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 400, Seed: 3})
	for _, d := range s.Devices() {
		res := get(t, detailsURL(base, d.ID), DefaultToken)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", d.ID, res.status, res.body)
		}
		if ct := res.header.Get("Content-Type"); ct != contentTypeJSON {
			t.Fatalf("Content-Type = %q, want %q", ct, contentTypeJSON)
		}
		if diff := cmp.Diff(wantDetails(d), decodeMap(t, res.body)); diff != "" {
			t.Fatalf("device %s body (-want +got):\n%s", d.ID, diff)
		}
		keys := topLevelKeys(t, res.body)
		want := slices.DeleteFunc(slices.Clone(vendorOrder), func(k string) bool { return !slices.Contains(keys, k) })
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Fatalf("key order differs from the vendor page (-want +got):\n%s", diff)
		}
	}
}

func TestDetailsEscaping(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 1, Seed: 3})
	id := s.IDs()[0]
	if !s.Update(id, func(d *Device) {
		d.Tags = []string{`quote " and \ backslash`, "new\nline", "café ☎"}
		d.ID = "attempt to change identity"
	}) {
		t.Fatal("Update of a present device returned false")
	}
	d, _ := s.Device(id)
	if d.ID != id {
		t.Fatalf("Update changed the ID to %q", d.ID)
	}
	res := get(t, detailsURL(base, id), DefaultToken)
	if diff := cmp.Diff(wantDetails(d), decodeMap(t, res.body)); diff != "" {
		t.Fatalf("body (-want +got):\n%s", diff)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 1, Tokens: []string{"tok-a", "tok-b"}})
	u := detailsURL(base, s.IDs()[0])
	tests := []struct {
		name   string
		header string // "" = none
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"basic scheme", "Basic dG9rLWE=", http.StatusUnauthorized},
		{"bearer without token", "Bearer ", http.StatusUnauthorized},
		{"first token", "Bearer tok-a", http.StatusOK},
		{"second token", "Bearer tok-b", http.StatusOK},
		{"scheme is case-insensitive", "bearer tok-a", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			var e webexError
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if e.Message != msgUnauthorized || len(e.Errors) != 1 || e.Errors[0].Description == "" || e.TrackingID != res.Header.Get("TrackingID") {
				t.Fatalf("401 body = %+v, header TrackingID %q", e, res.Header.Get("TrackingID"))
			}
		})
	}
}

func TestTokenRotation(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 1, Tokens: []string{"old"}})
	u := detailsURL(base, s.IDs()[0])
	steps := []struct {
		set   []string // nil = leave alone
		token string
		want  int
	}{
		{nil, "old", 200},
		{nil, "new", 401},
		{[]string{"old", "new"}, "new", 200}, // overlap window of a rotation
		{nil, "old", 200},
		{[]string{"new"}, "old", 401},
		{nil, "new", 200},
	}
	for i, st := range steps {
		if st.set != nil {
			s.SetTokens(st.set...)
		}
		if got := get(t, u, st.token).status; got != st.want {
			t.Fatalf("step %d: token %q got %d, want %d", i, st.token, got, st.want)
		}
	}
}

var trackingRE = regexp.MustCompile(`^ROUTER_[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

func TestTrackingIDAlwaysPresent(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 3, RateLimit: 0.001, Burst: 5})
	ids := s.IDs()
	s.SetFault(ids[1], Fault{Kind: FaultUnavailable})
	tests := []struct {
		name  string
		url   string
		token string
		want  int
	}{
		{"ok", detailsURL(base, ids[0]), DefaultToken, 200},
		{"unauthorized", detailsURL(base, ids[0]), "", 401},
		{"fault", detailsURL(base, ids[1]), DefaultToken, 503},
		{"not found", detailsURL(base, "nope"), DefaultToken, 404},
		{"list", base + "/devices", DefaultToken, 200},
		{"unknown path", base + "/people", DefaultToken, 404},
		{"rate limited", detailsURL(base, ids[0]), DefaultToken, 429}, // burst of 5 is spent by now (401s do not take tokens)
	}
	seen := map[string]bool{}
	for _, tt := range tests { // in order: the last case relies on the others spending the burst
		res := get(t, tt.url, tt.token)
		if res.status != tt.want {
			t.Fatalf("%s: status %d, want %d", tt.name, res.status, tt.want)
		}
		tid := res.header.Get("TrackingID")
		if !trackingRE.MatchString(tid) {
			t.Fatalf("%s: TrackingID %q does not look like ROUTER_<uuid>", tt.name, tid)
		}
		if seen[tid] {
			t.Fatalf("%s: TrackingID %q reused", tt.name, tid)
		}
		seen[tid] = true
		if res.status >= 400 {
			var e webexError
			if err := json.Unmarshal(res.body, &e); err != nil || e.TrackingID != tid {
				t.Fatalf("%s: error body %s (%v) does not carry trackingId %q", tt.name, res.body, err, tid)
			}
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 3, Seed: 9})
	ids := s.IDs()
	if !s.Remove(ids[2]) {
		t.Fatal("Remove of a present device returned false")
	}
	if s.Remove(ids[2]) {
		t.Fatal("second Remove returned true")
	}
	prefix := base + "/telephony/config/devices/"
	tests := []struct {
		name string
		url  string
	}{
		{"unknown but well-formed", detailsURL(base, strings.Replace(ids[0], "Q", "R", 1))},
		{"garbage", prefix + "garbage"},
		{"removed", detailsURL(base, ids[2])},
		{"escaped slash", prefix + ids[0] + "%2Fextra"},
		{"escaped slash to the listing", prefix + "..%2F..%2F..%2Fdevices"},
		{"escaped question mark", prefix + ids[0] + "%3ForgId=x"},
		{"extra segment", prefix + ids[0] + "/extra"},
		{"empty id", prefix},
		{"lower-cased id", detailsURL(base, strings.ToLower(ids[0]))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := get(t, tt.url, DefaultToken)
			if res.status != http.StatusNotFound {
				t.Fatalf("status %d, want 404; body %s", res.status, res.body)
			}
			var e webexError
			if err := json.Unmarshal(res.body, &e); err != nil || e.Message == "" || e.TrackingID == "" {
				t.Fatalf("404 body %s is not a Webex error (%v)", res.body, err)
			}
		})
	}
	if got := get(t, detailsURL(base, ids[0]), DefaultToken).status; got != 200 {
		t.Fatalf("present device answered %d", got)
	}
	if _, ok := s.Device(ids[2]); ok {
		t.Fatal("Device() still returns the removed device")
	}
	if slices.Contains(s.IDs(), ids[2]) {
		t.Fatal("IDs() still lists the removed device")
	}
}
