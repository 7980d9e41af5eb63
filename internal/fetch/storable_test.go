package fetch

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in  string
		wantField string // a problem names it; "" for none
		check     func(map[string]any) bool
	}{
		{"clean payload kept byte for byte", `{"id":"A", "n":1.5e3}`, "", nil},
		{"huge exponent", `{"id":"A","n":1e999999}`, "details.n: number 1e999999", func(m map[string]any) bool { return m["n"] == nil }},
		{"tiny exponent", `{"id":"A","x":{"n":1e-99999}}`, "details.x.n: number", nil},
		{"largest numeric kept", `{"id":"A","n":1e131071}`, "", nil},
		{"one digit more refused", `{"id":"A","n":100e131070}`, "details.n: number", nil},
		{"zero with a huge exponent kept", `{"id":"A","n":0e999999}`, "", nil},
		{"lone surrogate", `{"id":"A","a":["ok","\ud800"]}`, "details.a[1]: invalid UTF-8 or a lone UTF-16 surrogate", func(m map[string]any) bool {
			return m["a"].([]any)[1] == "\uFFFD"
		}},
		{"surrogate pair kept", `{"id":"A","a":"\ud83d\ude00"}`, "", nil},
		{"spelled-out U+FFFD kept", `{"id":"A","a":"\ufffd �"}`, "", nil},
		{"invalid UTF-8", "{\"id\":\"A\",\"name\":\"ab\xffcd\"}", "details.name: invalid UTF-8", nil},
		{"in a key", `{"id":"A","\udc00":1}`, "(its name): invalid UTF-8 or a lone UTF-16 surrogate", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, problems := storable(json.RawMessage(tt.in))
			if tt.wantField == "" {
				if len(problems) != 0 || string(out) != tt.in {
					t.Errorf("storable(%s) = %s, %v; want it unchanged", tt.in, out, problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.wantField) {
				t.Errorf("problems %v, want one naming %q", problems, tt.wantField)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil || m["id"] != "A" {
				t.Fatalf("re-encoded payload %s: %v", out, err)
			}
			if tt.check != nil && !tt.check(m) {
				t.Errorf("re-encoded payload %s", out)
			}
		})
	}
}

// TestQuickLookMissesNothing: whatever the full walk would change, the
// quick look sends to it. Its bounds are checked at their edges, and a
// payload as Webex sends it takes no walk at all.
func TestQuickLookMissesNothing(t *testing.T) {
	t.Parallel()
	digits := func(n int) string { return strings.Repeat("7", n) }
	inputs := []string{
		`{"id":"A","n":1e9999}`, `{"id":"A","n":1e-9999}`, `{"id":"A","n":1e99999}`,
		`{"id":"A","n":1e999999}`, `{"id":"A","n":1E+999999}`, `{"id":"A","n":1e-99999}`,
		`{"id":"A","n":` + digits(6000) + `e9999}`, `{"id":"A","n":0.` + digits(6000) + `e-9999}`,
		`{"id":"A","n":` + digits(6000) + `.` + digits(6000) + `e-9999}`,
		`{"id":"A","n":` + digits(6001) + `e9999}`, `{"id":"A","n":` + digits(131073) + `}`,
		`{"id":"A","n":0.` + digits(16384) + `}`,
		`{"id":"A","s":"\u0000"}`, `{"id":"A","s":"\\u0000"}`, `{"id":"A","s":"\uD800"}`, `{"id":"A","s":"\udfff"}`,
		`{"id":"A","s":"\uDBFF\uDFFF"}`, `{"id":"A","s":"\ud7ff"}`, "{\"id\":\"A\",\"s\":\"\xc3\"}",
		`{"id":"A","s":"1e99999 in a string"}`,
	}
	changed := 0
	for _, in := range inputs {
		_, problems := repair(json.RawMessage(in))
		if len(problems) > 0 {
			changed++
		}
		if len(problems) > 0 && !mayNeedRepair([]byte(in)) {
			t.Errorf("the quick look passes %.80s..., which the walk changes: %v", in, problems)
		}
	}
	if changed != 9 {
		t.Errorf("the walk changed %d of the inputs, want 9: the edges are not where the test thinks", changed)
	}
	clean := `{"id":"Y2lzY29zcGFyazovL3VzL0RFVklDRS8x","displayName":"Lobby phone","mac":"00:1A:2B:3C:4D:5E",` +
		`"ip":"10.0.0.12","tags":["lobby","floor 1"],"firmware":"sip88xx.14-2-1-0001-1","serial":"FCH2231A0B1","n":-12.5e3}`
	if mayNeedRepair([]byte(clean)) {
		t.Errorf("a clean payload takes the walk: %s", clean)
	}
	if out, problems := storable(json.RawMessage(clean)); len(problems) != 0 || string(out) != clean {
		t.Errorf("a clean payload changed: %s %v", out, problems)
	}
}
