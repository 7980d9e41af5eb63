package webexsim

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustNew(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; nil = valid
	}{
		{name: "zero value", cfg: Config{}},
		{name: "full", cfg: Config{Devices: 10, RateLimit: 5, Burst: 2, RetryAfterForm: RetryAfterRand, FaultRates: map[FaultKind]float64{FaultUnavailable: 0.5, FaultStall: 0.5}}},
		{name: "negative devices", cfg: Config{Devices: -1}, wantErr: []string{"devices -1"}},
		{name: "too many devices", cfg: Config{Devices: MaxDevices + 1}, wantErr: []string{"devices"}},
		{name: "empty token", cfg: Config{Tokens: []string{"ok", ""}}, wantErr: []string{"tokens[1]"}},
		{name: "negative rate", cfg: Config{RateLimit: -1}, wantErr: []string{"rate limit"}},
		{name: "bad form", cfg: Config{RetryAfterForm: "minutes"}, wantErr: []string{`retry-after form "minutes"`}},
		{name: "negative latency and jitter", cfg: Config{Latency: -1, Jitter: -1}, wantErr: []string{"latency", "jitter"}},
		{name: "unknown fault", cfg: Config{FaultRates: map[FaultKind]float64{"418": 0.1}}, wantErr: []string{`"418"`}},
		{name: "rate above one", cfg: Config{FaultRates: map[FaultKind]float64{FaultGone: 1.5}}, wantErr: []string{"between 0 and 1"}},
		{name: "rates sum above one", cfg: Config{FaultRates: map[FaultKind]float64{FaultGone: 0.6, FaultInternal: 0.6}}, wantErr: []string{"sum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if _, nerr := New(tt.cfg); nerr == nil {
				t.Errorf("New accepted a config that Validate rejects")
			}
		})
	}
}

func TestPopulationDeterministic(t *testing.T) {
	t.Parallel()
	a := mustNew(t, Config{Devices: 300, Seed: 42}).Devices()
	b := mustNew(t, Config{Devices: 300, Seed: 42}).Devices()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different devices (-a +b):\n%s", diff)
	}
	// A device does not depend on the population size.
	small := mustNew(t, Config{Devices: 100, Seed: 42}).Devices()
	if diff := cmp.Diff(a[:100], small); diff != "" {
		t.Fatalf("device i differs between populations of 300 and 100 (-300 +100):\n%s", diff)
	}
	other := mustNew(t, Config{Devices: 300, Seed: 43}).Devices()
	for i := range other {
		if other[i].ID == a[i].ID {
			t.Fatalf("seeds 42 and 43 both produced ID %s at %d", a[i].ID, i)
		}
	}
}

func TestPopulationRealistic(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Devices: 5000, Seed: 7})
	devs := s.Devices()
	if got := len(devs); got != 5000 {
		t.Fatalf("len(Devices()) = %d, want 5000", got)
	}
	if diff := cmp.Diff(s.IDs(), ids(devs)); diff != "" {
		t.Fatalf("IDs() disagrees with Devices() (-IDs +Devices):\n%s", diff)
	}
	macRE := regexp.MustCompile(`^[0-9A-F]{12}$`)
	uuidRE := regexp.MustCompile(`^ciscospark://us/CALLING_DEVICE/[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	seenID, seenMAC, seenList := map[string]bool{}, map[string]bool{}, map[string]bool{}
	count := map[string]int{}
	for _, d := range devs {
		raw, err := base64.StdEncoding.DecodeString(d.ID)
		if err != nil || !uuidRE.Match(raw) {
			t.Fatalf("ID %s decodes to %q (%v), want ciscospark://us/CALLING_DEVICE/<UUID>", d.ID, raw, err)
		}
		if raw, _ := base64.StdEncoding.DecodeString(d.ListID); !strings.HasPrefix(string(raw), "ciscospark://us/DEVICE/") {
			t.Fatalf("ListID %s decodes to %q", d.ListID, raw)
		}
		if !macRE.MatchString(d.MAC) {
			t.Fatalf("MAC %q is not 12 uppercase hex digits", d.MAC)
		}
		for _, m := range []struct {
			seen map[string]bool
			v    string
		}{{seenID, d.ID}, {seenMAC, d.MAC}, {seenList, d.ListID}} {
			if m.seen[m.v] {
				t.Fatalf("duplicate %q", m.v)
			}
			m.seen[m.v] = true
		}
		if d.IP != "" && !strings.HasPrefix(d.IP, "10.") && !strings.HasPrefix(d.IP, "172.") && !strings.HasPrefix(d.IP, "192.168.") {
			t.Fatalf("IP %q is not private", d.IP)
		}
		if len(d.Tags) > 3 {
			t.Fatalf("%d tags, want 0-3", len(d.Tags))
		}
		count["manufacturer="+d.Manufacturer]++
		count["managedBy="+d.ManagedBy]++
		count["activation="+d.ActivationState]++
		switch {
		case d.IPOmitted:
			count["ip omitted"]++
		case d.IP == "":
			count["ip empty"]++
		}
		if d.OutboundProxy == "" {
			count["no proxy"]++
		}
		if d.UpgradeAsString {
			count["upgrade as string"]++
		}
		count["model="+d.Model]++
		count["type="+d.Type]++
		count["status="+d.ConnectionStatus]++
		if d.CallingIDOmitted {
			count["no callingDeviceId"]++
		}
		if d.AnswersAsDevice {
			count["answers as DEVICE"]++
		}
		if d.PersonID != "" {
			count["person"]++
		}
		if d.WorkspaceID != "" {
			count["workspace"]++
		}
		if u, _ := base64.StdEncoding.DecodeString(d.ListID); string(u) != strings.Replace(string(raw), "CALLING_DEVICE", "DEVICE", 1) {
			t.Fatalf("ListID %s decodes to %q: want the DEVICE ID of the same UUID as %q", d.ListID, u, raw)
		}
		if d.Software == "" || d.Serial == "" || d.LocationID == "" || d.LastSeen.IsZero() || d.Created.IsZero() {
			t.Fatalf("listing fields missing: %+v", d)
		}
	}
	// Every variant a client must handle shows up in a population this size.
	for _, k := range []string{
		"manufacturer=CISCO", "manufacturer=THIRD_PARTY", "managedBy=CUSTOMER", "managedBy=PARTNER", "managedBy=CISCO",
		"activation=", "activation=activating", "activation=activated", "activation=deactivated",
		"ip omitted", "ip empty", "no proxy", "upgrade as string",
		"model=DMS Cisco 8811", "model=DMS Cisco 6871", "model=Poly VVX 450", "model=Yealink T54W",
		"type=phone", "type=roomdesk", "no callingDeviceId", "answers as DEVICE", "person", "workspace",
		"status=connected", "status=disconnected", "status=connected_with_issues", "status=offline_expired",
		"status=activating", "status=unknown", "status=offline_deep_sleep", "status=pending",
	} {
		if count[k] == 0 {
			t.Errorf("no device with %s", k)
		}
	}
	if str := float64(count["upgrade as string"]) / 5000; str > 0.05 {
		t.Errorf("upgradeChannelEnabled is a string for %.1f%% of devices: the vendor's typo should be rare", str*100)
	}
	if absent := float64(count["activation="]) / 5000; absent < 0.5 || absent > 0.7 {
		t.Errorf("activationState absent for %.0f%% of devices, want about 60%%", absent*100)
	}
}

func ids(devs []Device) []string {
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d.ID
	}
	return out
}

func TestDeviceIDSpellings(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Devices: 2, Seed: 1})
	id, other := s.IDs()[0], s.IDs()[1]
	raw, _ := base64.StdEncoding.DecodeString(id)
	asDevice := []byte(strings.Replace(string(raw), "CALLING_DEVICE", "DEVICE", 1))
	tests := []struct {
		name        string
		id          string
		issued, any bool // parseCallingID (the fast path) and Device (any spelling)
	}{
		{"issued", id, true, true},
		{"unpadded", strings.TrimRight(id, "="), false, true},
		{"url alphabet padding stripped", base64.RawURLEncoding.EncodeToString(raw), false, true},
		{"lower-case uuid", base64.StdEncoding.EncodeToString([]byte(callingPrefix + strings.ToLower(string(raw[len(callingPrefix):])))), false, true},
		{"DEVICE not CALLING_DEVICE", base64.StdEncoding.EncodeToString(asDevice), false, true},
		{"DEVICE unpadded", base64.RawStdEncoding.EncodeToString(asDevice), false, true},
		{"another device", other, true, true},
		{"a person with the same UUID", base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "CALLING_DEVICE", "PEOPLE", 1))), false, false},
		{"empty", "", false, false},
		{"not base64", "!!!", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, got := parseCallingID(tt.id); got != tt.issued {
				t.Errorf("parseCallingID(%q) ok = %v, want %v", tt.id, got, tt.issued)
			}
			d, got := s.Device(tt.id)
			if got != tt.any {
				t.Fatalf("Device(%q) ok = %v, want %v", tt.id, got, tt.any)
			}
			if want := id; got && tt.id != other && d.ID != want {
				t.Errorf("Device(%q) is %s, want %s", tt.id, d.ID, want)
			}
		})
	}
}
