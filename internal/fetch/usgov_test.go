package fetch

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/time/rate"
)

func TestWebexForGovernmentIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		refused bool
	}{
		{"https://api-usgov.webex.com/v1", true},
		{"https://API-USGOV.WEBEX.COM/v1", true},
		{"https://api-usgov.webex.com.:443/v1", true},
		{"https://webexapis.com/v1", false},
		{"https://api-usgov.webex.com.example.org/v1", false},
		{"http://127.0.0.1:8089/v1", false},
	}
	for _, tt := range tests {
		err := CheckDetailsSupported(tt.url)
		if (err != nil) != tt.refused {
			t.Errorf("CheckDetailsSupported(%s) = %v, want refused %v", tt.url, err, tt.refused)
		}
		_, nerr := NewClient(Options{BaseURL: tt.url, Tokens: StaticToken("t"), Limiter: rate.NewLimiter(1, 1)})
		if (nerr != nil) != tt.refused {
			t.Errorf("NewClient(%s) = %v, want refused %v", tt.url, nerr, tt.refused)
		}
		if tt.refused && !strings.Contains(err.Error(), "does not support Get Webex Calling Device Details") {
			t.Errorf("message %q does not say why", err)
		}
	}
}

func TestSameHostPort(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"https://webexapis.com/v1", "https://webexapis.com:443/v1/devices", true},
		{"https://WebexAPIs.com./v1", "https://webexapis.com/v1", true},
		{"http://127.0.0.1/v1", "http://127.0.0.1:80/x", true},
		{"https://webexapis.com/v1", "https://webexapis.com:8443/v1", false},
		{"https://webexapis.com/v1", "https://webexapis.com.evil.example/v1", false},
	} {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := sameHostPort(a, b); got != tt.want {
			t.Errorf("sameHostPort(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
