package report_test

import (
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// --format html: one page, every value escaped by html/template (a device
// name is attacker-controlled), NULL told apart from an empty string,
// numbers right-aligned, the report's name and description as the title.
// TestReportHTMLRendersInChromium (internal/fleetpage) loads such a page
// in a real browser.
func TestHTMLEscapesEveryValue(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	res := report.Result{
		Columns: []string{"name", "n", "<th>"},
		Kinds:   []report.Kind{report.KindText, report.KindNumber, report.KindTime},
		Rows: [][]*string{
			{s(`<script>alert(1)</script>`), s("42"), s("2026-11-28 10:00:00.123456+00")},
			{s(`"><img src=x onerror=alert(2)>`), nil, s("")},
		},
	}
	var b strings.Builder
	if err := res.WriteOutput(&b, report.Output{Format: "html", Title: "failing_devices", Description: `a <b>bold</b> claim`}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>failing_devices</title>", "a &lt;b&gt;bold&lt;/b&gt; claim",
		"<th>&lt;th&gt;</th>", `<th class="num">n</th>`,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;",
		`<td class="num"><div class="v">42</div></td>`, `<td class="null">null</td>`,
		"2026-11-28 10:00:00&#43;00", // times to the second, as the table shows them
		"Content-Security-Policy", "2 rows.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script>", "<img", "http://", "https://", "<link", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: a value became markup, or something is fetched", bad)
		}
	}

	b.Reset()
	if err := res.WriteOutput(&b, report.Output{Format: "html", Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1 row: the first 1, as --limit asked.") || strings.Contains(b.String(), "onerror") {
		t.Errorf("--limit 1 page:\n%s", b.String())
	}
}
