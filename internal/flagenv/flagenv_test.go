package flagenv

import (
	"errors"
	"flag"
	"strings"
	"testing"
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
	if !errors.As(err, &ue) || ue.CommandLine || ExitCode(err) != ExitUsage {
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
	if err := New("y").Parse([]string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) || ExitCode(err) != ExitOK {
		t.Errorf("--help: %v", err)
	}
	if err := New("y").Parse([]string{"--nope"}, nil); ExitCode(err) != ExitUsage {
		t.Errorf("--nope: %v", err)
	}
}
