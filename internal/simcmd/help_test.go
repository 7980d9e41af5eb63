package simcmd

import (
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// --help names the control endpoints a person driving the simulator by
// hand needs (churn above all, to have changes to sync), every field of a
// churn step, and an example that a simulator accepts as it is written.
func TestHelpNamesTheControlEndpoints(t *testing.T) {
	t.Parallel()
	var help strings.Builder
	if _, err := parse([]string{"--help"}, noEnv, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	text := help.String()
	for _, want := range []string{"POST /_sim/churn", "GET /_sim/stats", "POST /_sim/reset-stats", "/_sim/rate-limit"} {
		if !strings.Contains(text, want) {
			t.Errorf("--help lacks %q:\n%s", want, text)
		}
	}
	st := reflect.TypeOf(webexsim.ChurnSpec{})
	for i := range st.NumField() {
		if name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ","); !strings.Contains(text, name) {
			t.Errorf("--help does not name the churn field %q", name)
		}
	}
	example := regexp.MustCompile(`-d '(\{[^']*\})'[^\n]*/_sim/churn`).FindStringSubmatch(text)
	if example == nil {
		t.Fatalf("--help has no curl -d '{...}' .../_sim/churn example:\n%s", text)
	}
	sim, err := webexsim.New(webexsim.Config{Devices: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/_sim/churn", "application/json", strings.NewReader(example[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rep webexsim.ChurnReport
	if err := json.NewDecoder(res.Body).Decode(&rep); res.StatusCode != http.StatusOK || err != nil || len(rep.IPChanged) == 0 {
		t.Errorf("the help's churn example: HTTP %d, %v, %d IP changes; want 200 and some", res.StatusCode, err, len(rep.IPChanged))
	}
}
