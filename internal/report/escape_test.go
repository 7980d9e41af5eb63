package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestEscapeForTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Cisco 8865 (desk #2)", "Cisco 8865 (desk #2)"},
		{"unicode letters stay", "Zürich Büro 東京", "Zürich Büro 東京"},
		{"ESC sequence", "\x1b[2J\x1b]0;owned\a", `\x1b[2J\x1b]0;owned\a`},
		{"CR overwrites the line", "ok\rFAILED", `ok\rFAILED`},
		{"tab and newline would break columns", "a\tb\nc", `a\tb\nc`},
		{"C1 CSI", "x\u009b31m", `x\u009b31m`},
		{"bidi override", "abc\u202edcb", `abc\u202edcb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"DEL", "a\x7fb", `a\x7fb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EscapeForTerminal(tc.in); got != tc.want {
				t.Errorf("EscapeForTerminal(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A table shows control characters escaped; CSV and JSON keep the value as
// it is, for the program that reads them.
func TestWriteEscapesOnlyTheTable(t *testing.T) {
	t.Parallel()
	hostile := "SEP\x1b]0;pwned\a\r\x1b[31mphone"
	res := Result{Columns: []string{"device_id", "name"}, Rows: [][]*string{{ptr("d1"), ptr(hostile)}}}

	var table bytes.Buffer
	if err := res.Write(&table, "table"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"\x1b", "\a", "\r"} {
		if strings.Contains(table.String(), c) {
			t.Errorf("table output holds a raw %q:\n%q", c, table.String())
		}
	}
	if !strings.Contains(table.String(), `SEP\x1b]0;pwned\a\r\x1b[31mphone`) {
		t.Errorf("table does not show the escaped value:\n%s", table.String())
	}

	var csvOut bytes.Buffer
	if err := res.Write(&csvOut, "csv"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvOut.String(), hostile) {
		t.Errorf("CSV changed the value: %q", csvOut.String())
	}

	var jsonOut bytes.Buffer
	if err := res.Write(&jsonOut, "json"); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(jsonOut.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["name"] != hostile {
		t.Errorf("JSON changed the value: %v", rows)
	}
}

func ptr(s string) *string { return &s }

func TestTableShortensWebexIDs(t *testing.T) {
	t.Parallel()
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	dev := enc("ciscospark://us/CALLING_DEVICE/738d43b0-3fc5-42c5-a0ce-ca2e30204077")
	loc := base64.RawURLEncoding.EncodeToString([]byte("ciscospark://us/LOCATION/9f1e0a2b-0000-4000-8000-123456789abc"))
	notID := enc("not a webex id at all, but long enough to look like one")
	res := Result{Columns: []string{"device_id", "location_id", "other"}, Rows: [][]*string{{ptr(dev), ptr(loc), ptr(notID)}}}
	var b bytes.Buffer
	if err := res.WriteOutput(&b, Output{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"738d43b0-3fc5…", "9f1e0a2b-0000…", notID} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := res.WriteOutput(&b, Output{Format: "table", Wide: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), dev) || !strings.Contains(b.String(), loc) {
		t.Errorf("--wide does not show the IDs whole:\n%s", b.String())
	}
}
