package fetch

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// elsewhere is a server on another origin that counts what reaches it.
func elsewhere(t *testing.T, tls bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeDevice(w, r)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestRedirectToAnotherOriginIsNotFollowed(t *testing.T) {
	t.Parallel()
	other, hits := elsewhere(t, false)
	for _, tt := range []struct {
		name string
		tls  bool // the API on https, the redirect to plain http
	}{
		{"another port of the same host", false},
		{"https to plain http", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			})
			var api *httptest.Server
			if tt.tls {
				api = httptest.NewTLSServer(h)
			} else {
				api = httptest.NewServer(h)
			}
			t.Cleanup(api.Close)
			c := newTestClient(t, api.URL, func(o *Options) { o.HTTPClient = api.Client() })
			_, err := c.Device(context.Background(), "DEV1", "")
			if KindOf(err) != KindRequest || !strings.Contains(err.Error(), other.URL+"/v1/telephony/config/devices/DEV1") ||
				!strings.Contains(err.Error(), "not followed") {
				t.Errorf("err = %v, want a refused redirect naming the location", err)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the other origin received %d requests", n)
			}
			if c.Stats().Requests != 1 {
				t.Errorf("%d requests; a refused redirect is not retried", c.Stats().Requests)
			}
		})
	}
}

func TestListingRedirectToAnotherOriginIsNotFollowed(t *testing.T) {
	t.Parallel()
	other, hits := elsewhere(t, false)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(api.Close)
	c := newTestClient(t, api.URL, nil)
	_, err := c.ListDevices(context.Background(), ListOptions{})
	if err == nil || !strings.Contains(err.Error(), other.URL+"/v1/devices") || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("err = %v, want a refused redirect naming the location", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other origin received %d requests", n)
	}
}

// A redirect within the API's origin is followed, with the token.
func TestSameOriginRedirectIsFollowed(t *testing.T) {
	t.Parallel()
	f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("moved") == "" {
			http.Redirect(w, r, r.URL.Path+"?moved=1", http.StatusMovedPermanently)
			return
		}
		writeDevice(w, r)
	})
	c := newTestClient(t, f.URL, nil)
	d, err := c.Device(context.Background(), "DEV1", "")
	if err != nil || d.ID != "DEV1" {
		t.Fatalf("Device = %+v, %v", d, err)
	}
	for _, r := range f.recorded() {
		if r.auth != "Bearer "+testToken {
			t.Errorf("request %s?%s without the token", r.escapedPath, r.query)
		}
	}
	// A loop is not followed forever.
	loop := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	c = newTestClient(t, loop.URL, nil)
	if _, err := c.Device(context.Background(), "DEV1", ""); KindOf(err) != KindRequest || !strings.Contains(err.Error(), "more than 5 times") {
		t.Errorf("redirect loop: err = %v", err)
	}
}

// A server that echoes the Authorization header into its answers does not
// get the token into what the client reports, even cut short.
func TestEchoedTokenIsScrubbed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		status int
		body   func(auth string) string
	}{
		{"in the message", http.StatusBadRequest, func(a string) string { return `{"message":"bad header ` + a + `"}` }},
		{"cut off by the length limit", http.StatusBadRequest, func(a string) string {
			return `{"message":"` + strings.Repeat("x", 290) + a + `"}`
		}},
		{"in the tracking ID", http.StatusInternalServerError, func(a string) string { return `{"message":"oops","trackingId":"` + a + `"}` }},
		{"as the device id", http.StatusOK, func(a string) string { return `{"id":"` + a + `"}` }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWebex(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body(r.Header.Get("Authorization"))))
			})
			c := newTestClient(t, f.URL, nil)
			_, err := c.Device(context.Background(), "DEV1", "")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testToken[:8]) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeDevice(w, r)
	}))
	api.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	api.StartTLS()
	t.Cleanup(api.Close)
	c := newTestClient(t, api.URL, nil) // the default client does not trust the test CA
	_, err := c.Device(context.Background(), "DEV1", "")
	if KindOf(err) != KindCertificate || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want an untrusted certificate", err)
	}
	if n := c.Stats().Requests; n != 1 {
		t.Errorf("%d handshakes; a certificate failure is not retried", n)
	}
	if hits.Load() != 0 {
		t.Errorf("a request got through")
	}
}
