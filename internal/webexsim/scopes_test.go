package webexsim

import (
	"net/http"
	"testing"
)

func TestTokenScopes(t *testing.T) {
	t.Parallel()
	sim, err := New(Config{Devices: 3, Tokens: []string{"all", "details-only", "list-only"},
		Scopes: map[string][]string{"details-only": {ScopeTelephonyConfigRead}, "list-only": {ScopeDevicesRead}}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	details := base + "/telephony/config/devices/" + sim.IDs()[0]
	list := base + "/devices?max=1"
	for _, tc := range []struct {
		token, url string
		want       int
	}{
		{"all", details, http.StatusOK}, {"all", list, http.StatusOK},
		{"details-only", details, http.StatusOK}, {"details-only", list, http.StatusForbidden},
		{"list-only", details, http.StatusForbidden}, {"list-only", list, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.token, tc.url, res.StatusCode, tc.want)
		}
	}
}
