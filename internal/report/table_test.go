package report_test

import (
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// A table keeps every value whole: long text wraps at spaces within its
// column, and when even wrapped it would not fit, the columns the report
// names go first, as the last line says. Wide, or wide enough, nothing
// wraps and nothing is left out.
func TestTableWrapsAndLeavesOut(t *testing.T) {
	t.Parallel()
	note := "bad payload (HTTP 200, tracking ID ROUTER_6651E5A4-1234-5678-9ABC-DEF012345678): json: cannot unmarshal number into Go struct field .ip of type string"
	str := func(s string) *string { return &s }
	res := report.Result{
		Columns:   []string{"device", "failures", "since", "extra", "last_error"},
		Kinds:     []report.Kind{report.KindText, report.KindNumber, report.KindTime, report.KindText, report.KindText},
		Rows:      [][]*string{{str("phone-1"), str("12"), str("2026-12-01 23:49:43+00"), str("something else"), str(note)}},
		DropFirst: []string{"extra"},
	}
	for _, tt := range []struct {
		name      string
		out       report.Output
		maxWidth  int
		lines     int // of the one row
		dropped   bool
		wantWhole []string
	}{
		{"narrow: wrapped, extra left out", report.Output{Format: "table", Width: 100}, 100, 4, true, nil},
		{"wide enough: one line", report.Output{Format: "table", Width: 250}, 250, 1, false, []string{note}},
		{"--wide: one line", report.Output{Format: "table", Width: 80, Wide: true}, 250, 1, false, []string{note}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := res.WriteOutput(&b, tt.out); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, l := range lines {
				if n := len([]rune(l)); n > tt.maxWidth {
					t.Errorf("a line of %d columns, want at most %d:\n%s", n, tt.maxWidth, out)
				}
			}
			if got := len(lines) - 3; got != tt.lines { // header, rule, note
				t.Errorf("the row takes %d lines, want %d:\n%s", got, tt.lines, out)
			}
			// Every word of every value, in order, and nothing cut.
			flat := strings.Join(strings.Fields(out), " ")
			for _, v := range []string{"phone-1", "12", "2026-12-01 23:49:43+00", note} {
				if !strings.Contains(flat, strings.Join(strings.Fields(v), " ")) {
					t.Errorf("%q is not whole in:\n%s", v, out)
				}
			}
			for _, v := range tt.wantWhole {
				if !strings.Contains(out, v) {
					t.Errorf("%q is not on one line:\n%s", v, out)
				}
			}
			if strings.Contains(out, "…") {
				t.Errorf("a value is cut:\n%s", out)
			}
			last := lines[len(lines)-1]
			if dropped := strings.Contains(last, "extra left out to fit 100 columns") && !strings.Contains(out, "something else"); dropped != tt.dropped {
				t.Errorf("extra left out: %v, want %v:\n%s", dropped, tt.dropped, out)
			}
			if !strings.HasPrefix(lines[2], "phone-1") || !strings.Contains(lines[2], "      12  2026") {
				t.Errorf("the row's first line: %q", lines[2])
			}
		})
	}
}
