package fetch_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

const listToken = "list-test-token-0123456789"

func listClient(t *testing.T, base string) *fetch.Client {
	t.Helper()
	c, err := fetch.NewClient(fetch.Options{
		BaseURL:        base,
		Tokens:         fetch.StaticToken(listToken),
		Limiter:        rate.NewLimiter(rate.Inf, 1),
		MaxAttempts:    3,
		RequestTimeout: 2 * time.Second,
		BackoffBase:    5 * time.Millisecond,
		BackoffMax:     20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startListSim(t *testing.T, cfg webexsim.Config) (*webexsim.Sim, string) {
	t.Helper()
	cfg.Tokens = []string{listToken}
	sim, err := webexsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, base
}

func callingIDs(l fetch.Listing) []string {
	var out []string
	for _, d := range l.Devices {
		out = append(out, d.CallingDeviceID)
	}
	return out
}

// simDetailsIDs are the IDs the listing should hand out for Get Device
// Details: callingDeviceId, or id for the items without one.
func simDetailsIDs(devs []webexsim.Device, typ string) []string {
	var out []string
	for _, d := range devs {
		if typ != "" && d.Type != typ {
			continue
		}
		if d.CallingIDOmitted {
			out = append(out, d.ListID)
		} else {
			out = append(out, d.ID)
		}
	}
	return out
}

func detailsIDs(l fetch.Listing) []string {
	var out []string
	for _, d := range l.Devices {
		out = append(out, d.DetailsID())
	}
	return out
}

func TestListDevicesAgainstSimulator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		devices   int
		pageSize  int
		typ       string
		drop      bool
		wantPages int
	}{
		{"several pages", 250, 100, "", false, 3},
		{"exact multiple", 200, 50, "", false, 4},
		{"empty org", 0, 100, "", false, 1},
		// Without the filter put back, the second page would list every
		// type; with type=phone the simulator's phones are all listed.
		{"filters dropped by next links are put back", 120, 50, "phone", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, base := startListSim(t, webexsim.Config{Devices: tt.devices, Seed: 5, DropFiltersOnNext: tt.drop})
			l, err := listClient(t, base).ListDevices(context.Background(), fetch.ListOptions{PageSize: tt.pageSize, Type: tt.typ, OrgID: "ORG1"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(simDetailsIDs(sim.Devices(), tt.typ), detailsIDs(l), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("listed details IDs (-want +got):\n%s", diff)
			}
			if l.Pages != tt.wantPages {
				t.Errorf("pages = %d, want %d", l.Pages, tt.wantPages)
			}
		})
	}
}

func TestListDevicesRetriesAndFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   webexsim.Fault
		wantErr string // "" means it succeeds
	}{
		{"a 503 on page 2 is retried", webexsim.Fault{Kind: webexsim.FaultUnavailable, Skip: 1, Times: 1}, ""},
		{"a truncated page 2 is retried", webexsim.Fault{Kind: webexsim.FaultTruncated, Skip: 1, Times: 2}, ""},
		{"a 423 on page 2 pauses and is retried", webexsim.Fault{Kind: webexsim.FaultLocked, Skip: 1, Times: 1, RetryAfter: 10 * time.Millisecond}, ""},
		{"page 2 failing every attempt fails the listing", webexsim.Fault{Kind: webexsim.FaultInternal, Skip: 1}, "page 2: transient (HTTP 500"},
		{"page 3 not JSON every attempt fails the listing", webexsim.Fault{Kind: webexsim.FaultWrongContentType, Skip: 2}, "page 3: bad payload"},
		{"a 403 fails at once", webexsim.Fault{Kind: webexsim.FaultForbidden}, "page 1: forbidden (HTTP 403"},
		{"a 403 on page 2 fails too", webexsim.Fault{Kind: webexsim.FaultForbidden, Skip: 1}, "page 2: forbidden (HTTP 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, base := startListSim(t, webexsim.Config{Devices: 30, Seed: 9})
			sim.SetListFault(tt.fault)
			l, err := listClient(t, base).ListDevices(context.Background(), fetch.ListOptions{PageSize: 10})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(simDetailsIDs(sim.Devices(), ""), detailsIDs(l)); diff != "" {
					t.Errorf("listed (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if len(l.Devices) != 0 {
				t.Errorf("a failed listing returned %d devices", len(l.Devices))
			}
			var le *fetch.ListError
			if !errors.As(err, &le) {
				t.Errorf("err %T is not a *fetch.ListError", err)
			}
			if forbidden := tt.fault.Kind == webexsim.FaultForbidden; errors.Is(err, fetch.ErrListForbidden) != forbidden {
				t.Errorf("errors.Is(err, ErrListForbidden) = %v, want %v", !forbidden, forbidden)
			}
		})
	}
}

func TestListDevices429HonoursRetryAfter(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		times []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"items":[{"id":"L1","callingDeviceId":"C1"}]}`)
	}))
	t.Cleanup(srv.Close)
	l, err := listClient(t, srv.URL+"/v1").ListDevices(context.Background(), fetch.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"C1"}, callingIDs(l)); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}
	if len(times) != 2 || times[1].Sub(times[0]) < 900*time.Millisecond {
		t.Errorf("requests at %v: want the retry a Retry-After (1s) later", times)
	}
}

func TestListDevicesNextLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		link    func(self string) string // the first page's Link header
		wantErr string
		wantIDs []string
	}{
		{"relative next link, among other links", func(string) string {
			return `</v1/devices?start=1&max=1>; rel="next", </v1/devices?start=0>; rel="first"`
		}, "", []string{"C0", "C1"}},
		{"rel list", func(self string) string { return `<` + self + `/v1/devices?start=1>; rel="prev next"` }, "", []string{"C0", "C1"}},
		{"another host", func(string) string { return `<https://evil.example/v1/devices?start=1>; rel="next"` }, "refusing to send the token", nil},
		{"another port", func(self string) string {
			u := must(url.Parse(self))
			return `<http://` + u.Hostname() + `:1/v1/devices?start=1>; rel="next"`
		}, "refusing to send the token", nil},
		{"the same host in capitals", func(self string) string { return `<` + strings.ToUpper(self) + `/v1/devices?start=1>; rel="next"` }, "", []string{"C0", "C1"}},
		{"another scheme", func(self string) string {
			return `<` + strings.Replace(self, "http://", "https://", 1) + `/v1/devices?start=1>; rel="next"`
		}, "refusing to send the token", nil},
		{"a loop", func(self string) string { return `<` + self + `/v1/devices?max=100>; rel="next"` }, "repeats an earlier page", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *httptest.Server
			var leaked bool
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+listToken {
					leaked = true
				}
				start := r.URL.Query().Get("start")
				w.Header().Set("Content-Type", "application/json")
				if start == "" || start == "0" {
					if start == "" {
						w.Header().Set("Link", tt.link(srv.URL))
					}
					fmt.Fprint(w, `{"items":[{"id":"L0","callingDeviceId":"C0"}]}`)
					return
				}
				fmt.Fprint(w, `{"items":[{"id":"L1","callingDeviceId":"C1"},{"id":"L2"}]}`)
			}))
			t.Cleanup(srv.Close)
			l, err := listClient(t, srv.URL+"/v1").ListDevices(context.Background(), fetch.ListOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), listToken) {
					t.Errorf("the error shows the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(tt.wantIDs, "") // L2 has no callingDeviceId
			if diff := cmp.Diff(want, callingIDs(l)); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
			if leaked {
				t.Errorf("a request went without the token")
			}
		})
	}
}

func encodeAs(enc, text string) string {
	switch enc {
	case "std":
		return base64.StdEncoding.EncodeToString([]byte(text))
	case "raw std":
		return base64.RawStdEncoding.EncodeToString([]byte(text))
	case "raw url":
		return base64.RawURLEncoding.EncodeToString([]byte(text))
	}
	panic(enc)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
