package cli

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// report overview --format html writes the fleet page of what a run
// stored; any report writes a page with --format html; a wrong format or
// parameter is a usage error before the database is touched.
func TestReportOverviewAndHTML(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 40)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}
	if r := runCLI(t, env, "run", "--api-url", base, "--rate", "1000", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("run: code %d\n%s", r.code, r.stderr)
	}

	r := runCLI(t, env, "report", "overview", "--format", "html", "--param", "days=7", "--param", "rows=5")
	if r.code != exitcode.OK {
		t.Fatalf("report overview: code %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Devices by connection status", "Devices by model",
		"Devices by software version", "Changes per day, last 7 days", "Offline devices", "Last runs", "<b>40</b>"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("overview page lacks %q", want)
		}
	}
	if n := strings.Count(r.stdout, `<svg class="chart"`); n != 4 {
		t.Errorf("%d charts on the page, want 4", n)
	}

	r = runCLI(t, env, "report", "recent_runs", "--format", "html")
	if r.code != exitcode.OK || !strings.Contains(r.stdout, "<title>recent_runs</title>") || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("report recent_runs --format html: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, env, "report", "--list"); !strings.Contains(r.stdout, "overview") {
		t.Errorf("report --list does not name overview:\n%s", r.stdout)
	}

	bad := map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "overview"}, "--format html"},
		{[]string{"report", "overview", "--format", "html", "--param", "days=abc"}, "days=abc"},
		{[]string{"report", "overview", "--format", "html", "--param", "colour=red"}, "takes days=30, runs=15, rows=25"},
		{[]string{"report", "overview", "--format", "html", "--limit", "3"}, "no --limit"},
		{[]string{"report", "recent_runs", "--format", "pdf"}, "want table, csv, json or html"},
	} {
		r := runCLI(t, bad, tc.args...)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: code %d, want %d naming %q:\n%s", tc.args, r.code, exitcode.Usage, tc.want, r.stderr)
		}
	}
}

// report --list is a table like a report's: every report on a line of its
// own, the descriptions wrapped to 120 columns (they are up to 700
// characters long), --wide one line each.
func TestReportListFits120Columns(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "report", "--list")
	if r.code != exitcode.OK {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	all, err := report.All()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 120 {
			t.Errorf("a line of %d characters:\n%s", n, l)
		}
	}
	for _, rep := range append(all, report.Report{Name: "overview"}) {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, rep.Name+" ") }) {
			t.Errorf("no line starts with report %s:\n%s", rep.Name, r.stdout)
		}
	}
	wide := runCLI(t, nil, "report", "--list", "--wide")
	if n := len(strings.Split(strings.TrimRight(wide.stdout, "\n"), "\n")); n != len(all)+4 {
		t.Errorf("--wide: %d lines, want a header, its rule, one line a report and the count (%d)\n%s", n, len(all)+4, wide.stdout)
	}
}
