package simcmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/flagenv"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func noEnv(string) string { return "" }

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error, each naming its flag
	}{
		{"negative devices", []string{"--devices", "-3"}, nil, []string{"--devices -3"}},
		{"bad form", []string{"--retry-after-form", "minutes"}, nil, []string{"--retry-after-form"}},
		{"bad listen", []string{"--listen", "nonsense"}, nil, []string{"--listen"}},
		{"fault rate above one", []string{"--fault-rate-503", "1.5"}, nil, []string{"--fault-rate-503"}},
		{"fault rates sum", []string{"--fault-rate-503", "0.6", "--fault-rate-stall", "0.6"}, nil, []string{"sum"}},
		{"several at once", []string{"--rate", "-1", "--burst", "-1", "--jitter", "-1s"}, nil, []string{"--rate", "--burst", "--jitter"}},
		{"empty token", []string{"--token", "a,,b"}, nil, []string{"--token"}},
		{"unknown flag", []string{"--nope"}, nil, []string{"nope"}},
		{"positional", []string{"extra"}, nil, []string{"unexpected"}},
		{"bad env", nil, map[string]string{"WEBEXSIM_DEVICES": "many"}, []string{"WEBEXSIM_DEVICES"}},
		{"bad log format", []string{"--log-format", "xml"}, nil, []string{"--log-format"}},
		{"bad rate schedule", []string{"--rate-schedule", "30s=10,10s=5"}, nil, []string{"--rate-schedule", "increasing order"}},
		{"rate schedule without a rate", []string{"--rate-schedule", "30s"}, nil, []string{"--rate-schedule", "AT=RATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			var ue *flagenv.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("run() = %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, v := range tt.env {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q echoes the environment value %q", err, v)
				}
			}
		})
	}
}

func TestParsePrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{"WEBEXSIM_DEVICES": "7", "WEBEXSIM_SEED": "9", "WEBEXSIM_DROP_FILTERS_ON_NEXT": "true", "WEBEXSIM_FAULT_RATE_503": "0.25"}
	o, err := parse([]string{"--devices", "3", "--token", "a, b", "--retry-after-form", "rand", "--latency", "5ms", "--rate", "25", "--burst", "1", "--rate-schedule", "30s=10,5m=25/20"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := o.cfg
	if want := []webexsim.RateStep{{At: 30 * time.Second, Rate: 10}, {At: 5 * time.Minute, Rate: 25, Burst: 20}}; got.RateLimit != 25 || got.Burst != 1 || !slices.Equal(got.RateSchedule, want) {
		t.Fatalf("rate %v, burst %d, schedule %v; want 25, 1, %v", got.RateLimit, got.Burst, got.RateSchedule, want)
	}
	if got.Devices != 3 || got.Seed != 9 || !got.DropFiltersOnNext || got.FaultRates[webexsim.FaultUnavailable] != 0.25 ||
		strings.Join(got.Tokens, "|") != "a|b" || got.RetryAfterForm != webexsim.RetryAfterRand || got.Latency != 5*time.Millisecond || o.listen != "127.0.0.1:8089" {
		t.Fatalf("parsed %+v, listen %q", got, o.listen)
	}
	if _, err := parse([]string{"-h"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

// TestRunServes reads what run prints while it keeps serving, then stops it.
func TestRunServes(t *testing.T) {
	t.Parallel()
	idsFile := filepath.Join(t.TempDir(), "ids.txt")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--devices", "25", "--token", "tok1,tok2", "--ids-out", idsFile}, noEnv, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	vars := map[string]string{}
	for len(vars) < 2 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		vars[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, token := vars["WEBEX_API_URL"], vars["WEBEX_TOKEN"]
	if !strings.HasSuffix(base, "/v1") || token != "tok1" {
		t.Fatalf("printed %v", vars)
	}
	raw, err := os.ReadFile(idsFile)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(raw))
	if len(ids) != 25 {
		t.Fatalf("--ids-out wrote %d IDs, want 25", len(ids))
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/telephony/config/devices/"+ids[24], nil)
	req.Header.Set("Authorization", "Bearer tok2")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET a listed ID: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

func TestMainSaysWebexsimOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr strings.Builder
	code := Main(context.Background(), []string{"--listen", l.Addr().String(), "--devices", "1"}, noEnv, io.Discard, &stderr)
	if code != 1 || strings.Count(stderr.String(), "webexsim:") != 1 {
		t.Errorf("exit %d, stderr %q: want 1 and the program named once", code, stderr.String())
	}
}
