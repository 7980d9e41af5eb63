package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
)

// Organisation IDs as Webex spells them (base64 of ciscospark://us/ORGANIZATION/<uuid>).
const (
	testOrg     = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8xZWI2NWZkZi05NjQzLTQxN2YtOTk3NC1hZDcyY2FlMGUxMGY="
	testFlagOrg = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8yZWI2NWZkZi05NjQzLTQxN2YtOTk3NC1hZDcyY2FlMGUxMGY="
)

func envMap(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestRunOptionsPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(o runOptions) bool
		desc string
	}{
		{"defaults", nil, map[string]string{"WEBEX_TOKEN": "t"},
			func(o runOptions) bool {
				return o.APIURL == "https://webexapis.com/v1" && o.Rate == 5 && o.Burst == 5 && o.Concurrency == 8 &&
					o.RequestTimeout == 30*time.Second && o.MaxAttempts == 5 && o.DatabaseURL == ""
			}, "documented defaults"},
		{"environment over default", nil, map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "0.5", "WEBEX_ORG_ID": testOrg, "DATABASE_URL": "postgres://x@h/db"},
			func(o runOptions) bool {
				return o.Rate == 0.5 && o.OrgID == testOrg && o.DatabaseURL == "postgres://x@h/db"
			},
			"rate 0.5, org ORG, database URL from the environment"},
		{"flag over environment", []string{"--rate", "2.5", "--org-id", testFlagOrg}, map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "0.5", "WEBEX_ORG_ID": testOrg},
			func(o runOptions) bool { return o.Rate == 2.5 && o.OrgID == testFlagOrg }, "flags win"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o runOptions
			fs := newFlagSet("run", "", &bytes.Buffer{})
			o.register(fs)
			if err := fs.parse(tt.args, envMap(tt.env)); err != nil {
				t.Fatal(err)
			}
			if errs := o.validate(envMap(tt.env)); len(errs) > 0 {
				t.Fatal(errs)
			}
			if !tt.want(o) {
				t.Errorf("options = %+v; want %s", o, tt.desc)
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	const secret = "postgres://admin:hunter2@db.example/inventory"
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantMsgs []string
	}{
		{"no command", nil, nil, []string{"no command given"}},
		{"unknown command", []string{"frobnicate"}, nil, []string{`unknown command "frobnicate"`}},
		{"unknown flag", []string{"run", "--token", "abc"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{"flag provided but not defined: -token"}},
		{"bad values all reported", []string{"run", "--rate", "0", "--burst", "0", "--concurrency", "0", "--max-attempts", "0", "--request-timeout", "-1s", "--log-format", "xml"},
			map[string]string{"WEBEX_TOKEN": "t"},
			[]string{"--rate 0", "--burst 0", "--concurrency 0", "--max-attempts 0", "--request-timeout -1s", `--log-format "xml"`}},
		{"no token", []string{"run"}, nil, []string{"no Webex token"}},
		{"two tokens", []string{"run", "--token-file", "/x"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{"both WEBEX_TOKEN and a token file"}},
		{"plain http to a remote host", []string{"run", "--api-url", "http://webexapis.com/v1"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{"plain http to a non-loopback host"}},
		{"bad environment value names the variable, not the value", []string{"run"}, map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "fast"}, []string{"environment variable SYNC_RATE (for --rate) is not valid"}},
		{"stray argument", []string{"run", "extra"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{`unexpected argument "extra"`}},
		{"migrate bad log level", []string{"migrate", "--log-level", "loud", "--database-url", secret}, nil, []string{`--log-level "loud"`}},
		// Issue 11, items 5, 11 and 12.
		{"token with a line break", []string{"run"}, map[string]string{"WEBEX_TOKEN": "abc\r\ndef"}, []string{"WEBEX_TOKEN: the Webex token contains a line break"}},
		{"token with a trailing newline", []string{"run"}, map[string]string{"WEBEX_TOKEN": "abcdef\n"}, []string{"WEBEX_TOKEN: the Webex token contains a line break"}},
		{"API URL with an empty host", []string{"run", "--api-url", "https://:443/v1"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{`API URL "https://:443/v1" has no host`}},
		{"shard 0/0", []string{"run", "--shard", "0/0"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{`--shard: shard "0/0": COUNT must be at least 1`}},
		{"shard count 0 from an Indexed Job", []string{"run", "--shard-count", "0"}, map[string]string{"WEBEX_TOKEN": "t", "SYNC_SHARD": "0/0"}, []string{"environment variable SYNC_SHARD: --shard"}},
		{"every bad environment value listed", []string{"run"},
			map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "fast", "SYNC_BURST": "0", "SYNC_CONCURRENCY": "-3", "SYNC_MAX_DURATION": "-1m", "LOG_FORMAT": "xml"},
			[]string{"environment variable SYNC_RATE (for --rate) is not valid", "environment variable SYNC_BURST: --burst 0",
				"environment variable SYNC_CONCURRENCY: --concurrency -3", "environment variable SYNC_MAX_DURATION: --max-duration -1m0s",
				`environment variable LOG_FORMAT: --log-format "xml"`}},
		{"missing token file", []string{"run", "--token-file", "/nonexistent/token"}, nil, []string{"--token-file: read token file", "no such file"}},
		{"token file that never ends", []string{"run", "--token-file", "/dev/zero"}, nil, []string{"token file /dev/zero is larger than 16 KiB"}},
		{"database URL that cannot parse", []string{"run", "--database-url", "postgres://u:hunter2@h:notaport/db"}, map[string]string{"WEBEX_TOKEN": "t"}, []string{"--database-url: not a PostgreSQL URL"}},
		{"discover: every bad value", []string{"discover", "--page-size", "0"}, map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "-1"},
			[]string{"--page-size 0", "environment variable SYNC_RATE: --rate -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), tt.args, envMap(tt.env), &stdout, &stderr)
			if code := exitcode.Of(err); code != exitcode.Usage {
				t.Fatalf("exit code = %d (err %v), want %d", code, err, exitcode.Usage)
			}
			for _, m := range tt.wantMsgs {
				if !strings.Contains(err.Error(), m) && !strings.Contains(stderr.String(), m) {
					t.Errorf("error %q (stderr %q) does not mention %q", err, stderr.String(), m)
				}
			}
			if strings.Contains(err.Error()+stderr.String()+stdout.String(), "hunter2") {
				t.Errorf("output reveals a secret")
			}
		})
	}
}

// TestUsageErrorsSayWhatIsWrongOnce: each bad value is one clear line
// naming the problem, with no second error about a value nobody gave and
// no masking that hides what is wrong.
func TestUsageErrorsSayWhatIsWrongOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
		not  []string
	}{
		{"a rate that is not a number", []string{"run"}, map[string]string{"WEBEX_TOKEN": "t", "SYNC_RATE": "fast"},
			"environment variable SYNC_RATE (for --rate) is not valid: want a number such as 2.5", []string{"--rate 0", "parse error", "fast"}},
		{"a misspelt scheme", []string{"run", "--database-url", "postgress://postgres@db.example/inventory"}, map[string]string{"WEBEX_TOKEN": "t"},
			`--database-url: not a PostgreSQL URL or keyword/value string: scheme "postgress" is neither postgres:// nor postgresql://`, []string{"xxxxxx", "keyword/value (invalid"}},
		{"a keyword/value string that does not parse", []string{"run", "--database-url", "host=db password=hunter2 stray"}, map[string]string{"WEBEX_TOKEN": "t"},
			"--database-url: not a PostgreSQL URL or keyword/value string: failed to parse as keyword/value (invalid keyword/value)", []string{"hunter2", "`"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), tt.args, envMap(tt.env), &stdout, &stderr)
			if exitcode.Of(err) != exitcode.Usage || err.Error() != tt.want {
				t.Fatalf("exit %d, error %q; want %d and %q", exitcode.Of(err), err, exitcode.Usage, tt.want)
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error()+stderr.String(), n) {
					t.Errorf("the error says %q: %s", n, err)
				}
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"run", "--help"}, envMap(map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db"}), &stdout, &stderr)
	if exitcode.Of(err) != exitcode.OK || !Silent(err) {
		t.Fatalf("--help: %v", err)
	}
	help := stdout.String()
	if stderr.Len() > 0 {
		t.Errorf("--help wrote to standard error: %s", stderr.String())
	}
	for _, want := range []string{
		"--database-url", "DATABASE_URL", "--token-file", "WEBEX_TOKEN_FILE", "--api-url", "WEBEX_API_URL",
		"https://webexapis.com/v1", "--org-id", "WEBEX_ORG_ID", "--rate", "--burst", "--concurrency",
		"--request-timeout", "--max-attempts", "--no-migrate", "--log-format",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not mention %s", want)
		}
	}
	if strings.Contains(help, "hunter2") {
		t.Errorf("help shows an environment value")
	}
}

// Every command's help goes to standard output with exit 0, whichever way
// it is asked for; a bad flag is a usage error on standard error that names
// the help command.
func TestEveryHelpGoesToStandardOutput(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{}, {"run"}, {"check"}, {"migrate"}, {"migrate", "status"}, {"demo"}, {"devices"},
		{"devices", "add"}, {"devices", "import"}, {"devices", "remove"}, {"devices", "list"},
		{"discover"}, {"report"}, {"prune-history"}, {"version"},
	}
	for _, cmd := range commands {
		for _, h := range []string{"--help", "-h", "-help"} {
			args := append(append([]string{}, cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				err := Run(context.Background(), args, envMap(nil), &stdout, &stderr)
				if code := exitcode.Of(err); code != exitcode.OK {
					t.Errorf("exit %d (%v), want 0", code, err)
				}
				if stderr.Len() > 0 {
					t.Errorf("wrote to standard error: %q", stderr.String())
				}
				if !strings.Contains(stdout.String(), "Usage: "+Name) {
					t.Errorf("no usage on standard output: %q", stdout.String())
				}
			})
		}
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"devices", "list", "--no-such-flag"}, envMap(nil), &stdout, &stderr)
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "no-such-flag") || !strings.Contains(err.Error(), Name+" devices list --help") {
		t.Errorf("bad flag: exit %d, %v", exitcode.Of(err), err)
	}
	if stdout.Len() > 0 {
		t.Errorf("a bad flag printed to standard output: %q", stdout.String())
	}
}

func TestTopUsageNamesTheCommands(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"report NAME", "version", "devices add --mac"} {
		if !strings.Contains(topUsage, want) {
			t.Errorf("top-level usage lacks %q:\n%s", want, topUsage)
		}
	}
	if strings.Contains(topUsage, "report "+Name) {
		t.Errorf("top-level usage says %q", "report "+Name)
	}
}
