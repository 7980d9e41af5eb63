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
