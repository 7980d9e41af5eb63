package flagenv

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
)

func TestPrecedenceAndSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		want       string
		wantSource string
	}{
		{"default", nil, nil, "def", ""},
		{"second variable", nil, map[string]string{"B": "b"}, "b", "B"},
		{"first variable wins", nil, map[string]string{"A": "a", "B": "b"}, "a", "A"},
		{"flag wins", []string{"--url", "f"}, map[string]string{"A": "a"}, "f", "--url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := New("x")
			v := fs.String("url", "def", "")
			fs.BindEnv("url", "A", "B")
			if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if *v != tt.want || fs.Source("url") != tt.wantSource {
				t.Errorf("value %q from %q, want %q from %q", *v, fs.Source("url"), tt.want, tt.wantSource)
			}
		})
	}
}

func TestPrefixAndErrors(t *testing.T) {
	t.Parallel()
	fs := New("x")
	n := fs.Int("fault-rate", 0, "")
	fs.Int("devices", 0, "")
	fs.BindPrefix("SIM_")
	env := map[string]string{"SIM_FAULT_RATE": "3", "SIM_DEVICES": "s3cret-many"}
	err := fs.Parse(nil, func(k string) string { return env[k] })
	var ue *UsageError
	if !errors.As(err, &ue) || ue.CommandLine || exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("err = %v, want an environment usage error", err)
	}
	if !strings.Contains(err.Error(), "SIM_DEVICES") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q: want the variable named and its value not echoed", err)
	}
	if *n != 3 {
		t.Errorf("--fault-rate = %d, want 3 from SIM_FAULT_RATE", *n)
	}
}

func TestInterspersedAndHelp(t *testing.T) {
	t.Parallel()
	fs := New("x")
	dry := fs.Bool("dry-run", false, "")
	args, err := fs.ParseInterspersed([]string{"a", "--dry-run", "b", "--", "-c"}, func(string) string { return "" })
	if err != nil || !*dry || strings.Join(args, " ") != "a b -c" {
		t.Errorf("args %q, dry-run %v, err %v", args, *dry, err)
	}
	if err := New("y").Parse([]string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) || exitcode.Of(err) != exitcode.OK {
		t.Errorf("--help: %v", err)
	}
	if err := New("y").Parse([]string{"--nope"}, nil); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("--nope: %v", err)
	}
}

// TestBadValueSaysWhatItWants: a value the flag package cannot read says
// what the flag wants (not "parse error"), from the command line or the
// environment, and leaves the flag at its default, so that no later check
// reports a value nobody gave (SYNC_RATE=fast was "--rate 0").
func TestBadValueSaysWhatItWants(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"float from the environment", nil, map[string]string{"X_RATE": "fast"}, "X_RATE (for --rate) is not valid: want a number such as 2.5"},
		{"float on the command line", []string{"--rate", "fast"}, nil, `invalid value "fast" for flag -rate: want a number such as 2.5`},
		{"int", nil, map[string]string{"X_BURST": "many"}, "X_BURST (for --burst) is not valid: want a whole number"},
		{"int out of range", nil, map[string]string{"X_BURST": "99999999999999999999"}, "out of range: want a whole number"},
		{"duration without a unit", []string{"--wait", "5"}, nil, "want a duration such as 30s, 5m or 1h30m"},
		{"bool", nil, map[string]string{"X_DRY_RUN": "yes"}, "X_DRY_RUN (for --dry-run) is not valid: want true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := New("x")
			rate := fs.Float64("rate", 5, "")
			burst := fs.Int("burst", 3, "")
			wait := fs.Duration("wait", time.Second, "")
			dry := fs.Bool("dry-run", false, "")
			fs.BindPrefix("X_")
			err := fs.Parse(tt.args, func(k string) string { return tt.env[k] })
			if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "parse error") {
				t.Fatalf("err = %v, want a usage error saying %q", err, tt.want)
			}
			if *rate != 5 || *burst != 3 || *wait != time.Second || *dry {
				t.Errorf("values %v %v %v %v, want the defaults kept", *rate, *burst, *wait, *dry)
			}
		})
	}
	// A boolean flag still takes no argument, and help still names each
	// flag's type.
	fs := New("x")
	dry := fs.Bool("dry-run", false, "")
	fs.Float64("rate", 5, "requests per second")
	args, err := fs.ParseInterspersed([]string{"--dry-run", "a"}, func(string) string { return "" })
	if err != nil || !*dry || len(args) != 1 {
		t.Errorf("--dry-run a: args %q, dry-run %v, err %v", args, *dry, err)
	}
	var help strings.Builder
	fs.WriteFlags(&help)
	if !strings.Contains(help.String(), "--rate float") {
		t.Errorf("help does not name --rate's type:\n%s", help.String())
	}
}
