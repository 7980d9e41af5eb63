package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// TestDocsReportSamples: the "Real output" samples of docs/REPORTS.md have
// the columns the reports have today, as the job's tables and as psql
// prints them (IDs whole), so that a sample cannot silently go stale.
func TestDocsReportSamples(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/REPORTS.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "Real output, on the demo database")
	if i < 0 {
		t.Fatal("docs/REPORTS.md has no real output sample")
	}
	start := strings.Index(readme[i:], "```\n") + i + 4
	end := strings.Index(readme[start:], "```\n") + start
	lines := strings.Split(readme[start:end], "\n")
	env := map[string]string{"DATABASE_URL": pgtest.DBURL(t)}
	command := regexp.MustCompile(`^\$ (?:wxc-sync report (\w+)|psql .* -f queries/reports/(\w+)\.sql)`)
	samples := 0
	for n, line := range lines {
		m := command.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		samples++
		name, psql := m[1], false
		if name == "" {
			name, psql = m[2], true
		}
		r := runCLI(t, env, "report", name, "--format", "csv")
		cols, err := csv.NewReader(strings.NewReader(r.stdout)).Read()
		if r.code != exitcode.OK || err != nil {
			t.Fatalf("report %s: code %d, %v\n%s", name, r.code, err, r.stderr)
		}
		if n+2 >= len(lines) {
			t.Fatalf("the sample of %s has no header", name)
		}
		header := strings.Fields(lines[n+1])
		if psql {
			header = nil
			for _, c := range strings.Split(lines[n+1], "|") {
				header = append(header, strings.TrimSpace(c))
			}
			if strings.Contains(lines[n+3], "...") || strings.Contains(lines[n+3], "…") {
				t.Errorf("the psql sample of %s shows a cut value; psql prints values whole: %q", name, lines[n+3])
			}
		}
		if !slices.Equal(header, cols) {
			t.Errorf("docs/REPORTS.md's sample of %s has the columns %v; the report has %v", name, header, cols)
		}
	}
	if samples == 0 {
		t.Fatal("no sample command found: the check covers nothing")
	}
}

// TestREADMEPushgatewaySample: the scrape of the Pushgateway the docs show
// has the metrics TestPushgatewayServesTheRunMetrics scrapes from a real
// one, no more and no fewer. It looks in README.md and docs/, where the
// reference is moving.
func TestREADMEPushgatewaySample(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range append([]string{"../../README.md"}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(b), "```")
		for i := 1; i < len(blocks); i += 2 {
			if !strings.Contains(blocks[i], "wxc_sync_last_run_id{") {
				continue
			}
			var names []string
			for _, m := range regexp.MustCompile(`(?m)^# TYPE (wxc_sync_\w+) gauge$`).FindAllStringSubmatch(blocks[i], -1) {
				names = append(names, m[1])
			}
			slices.Sort(names)
			if !slices.Equal(names, pushedGauges) {
				t.Errorf("%s: the Pushgateway sample shows\n%v\nthe gateway serves\n%v", f, names, pushedGauges)
			}
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		t.Error("no sample of a Pushgateway scrape in README.md or docs/")
	}
}

// readmeSample returns the lines of the README's code block that starts
// with the command line given.
func readmeSample(t *testing.T, command string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "```\n"+command+"\n")
	if i < 0 {
		t.Fatalf("README.md has no sample of %q", command)
	}
	body := readme[i+4:]
	return strings.Split(body[:strings.Index(body, "```\n")], "\n")[1:]
}

// checkLines lists a check report's "[status] name" pairs and its verdict.
func checkLines(lines []string) []string {
	var out []string
	line := regexp.MustCompile(`^  \[(ok|warn|FAIL|skip)\] +(\S+(?: \S+)?)  `)
	for _, l := range lines {
		if m := line.FindStringSubmatch(l); m != nil {
			out = append(out, m[1]+" "+m[2])
		} else if strings.HasPrefix(l, "Ready") || strings.HasPrefix(l, "Not ready") {
			out = append(out, l)
		}
	}
	return out
}

// tableRows parses a table into rows of named values,
// by the columns its dashes mark.
func tableRows(t *testing.T, lines []string) (header []string, rows []map[string]string) {
	t.Helper()
	d := -1
	for n, l := range lines {
		if strings.HasPrefix(l, "---") {
			d = n
			break
		}
	}
	if d < 1 {
		t.Fatalf("no table in %q", lines)
	}
	var spans [][2]int
	for _, m := range regexp.MustCompile(`-+`).FindAllStringIndex(lines[d], -1) {
		spans = append(spans, [2]int{m[0], m[1]})
	}
	cell := func(l string, s [2]int) string {
		r := []rune(l)
		if s[0] >= len(r) {
			return ""
		}
		return strings.TrimSpace(string(r[s[0]:min(s[1], len(r))]))
	}
	for _, s := range spans {
		header = append(header, cell(lines[d-1], s))
	}
	for _, l := range lines[d+1:] {
		if l == "" || strings.HasPrefix(l, "(") {
			break
		}
		row := map[string]string{}
		for k, s := range spans {
			row[header[k]] = cell(l, s)
		}
		rows = append(rows, row)
	}
	return header, rows
}

// TestREADMENewcomerSamples: the README's real output of "check" and of the
// audit question (a MAC's timeline after an IP change) is what the code
// prints today for the same steps: check on a migrated database with no
// device tracked, then a run, one IP change in the simulator, a second run,
// and device_timeline by the device's MAC.
func TestREADMENewcomerSamples(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, 30)
	db := pgtest.DBURL(t)
	env := map[string]string{"DATABASE_URL": db, "WEBEX_API_URL": base, "WEBEX_TOKEN": cliToken, "SYNC_RATE": "1000"}

	r := runCLI(t, env, "check", "--no-migrate")
	if r.code != exitcode.OK {
		t.Fatalf("check: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want, got := checkLines(readmeSample(t, "$ bin/wxc-sync check --no-migrate")), checkLines(strings.Split(r.stdout, "\n"))
	if len(want) < 5 || !slices.Equal(want, got) {
		t.Errorf("README's check sample shows\n%q\ncheck prints\n%q\n%s", want, got, r.stdout)
	}

	track(t, db, sim.IDs())
	if r := runCLI(t, env, "run", "--no-migrate", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("first run: code %d\n%s", r.code, r.stderr)
	}
	changed := sim.Churn(webexsim.ChurnSpec{Seed: 7, IPChange: 0.1}).IPChanged
	if len(changed) == 0 {
		t.Fatal("the churn changed no IP")
	}
	if r := runCLI(t, env, "run", "--no-migrate", "--log-format", "json"); r.code != exitcode.OK {
		t.Fatalf("second run: code %d\n%s", r.code, r.stderr)
	}
	row := runCLI(t, env, "report", "device_row", "--param", "device_id="+changed[0].ID, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(row.stdout)).ReadAll()
	if row.code != exitcode.OK || err != nil || len(recs) != 2 {
		t.Fatalf("device_row: code %d, %v\n%s%s", row.code, err, row.stdout, row.stderr)
	}
	mac := recs[1][slices.Index(recs[0], "mac")]

	sample := readmeSample(t, "$ bin/wxc-sync report device_timeline --param device=0c:11:67:ac:68:f6")
	r = runCLI(t, env, "report", "device_timeline", "--param", "device="+mac)
	if r.code != exitcode.OK {
		t.Fatalf("device_timeline by MAC: code %d\n%s", r.code, r.stderr)
	}
	took := regexp.MustCompile(`^(\S+) is \S+ \(ok; [^;]+; [^;]+; MAC (\S+); matched by ([a-z ,]+)\)$`)
	if m := took.FindStringSubmatch(sample[0]); m == nil || m[1] != m[2] {
		t.Errorf("README's sample does not start with the line saying which device the MAC was taken for: %q", sample[0])
	}
	said := strings.TrimSpace(r.stderr)
	if m, s := took.FindStringSubmatch(said), took.FindStringSubmatch(sample[0]); m == nil || s == nil || m[1] != mac || m[3] != s[3] {
		t.Errorf("device_timeline says on stderr\n%q\nthe README shows\n%q", said, sample[0])
	}
	wantHeader, wantRows := tableRows(t, sample[1:])
	gotHeader, gotRows := tableRows(t, strings.Split(r.stdout, "\n"))
	if !slices.Equal(wantHeader, gotHeader) {
		t.Errorf("README's timeline has the columns %q; the report has %q", wantHeader, gotHeader)
	}
	// The answer is the last row: an IP change, from the old address, with
	// the time the old one was last seen, found by the second run.
	for name, rows := range map[string][]map[string]string{"README's timeline": wantRows, "the timeline": gotRows} {
		if len(rows) < 2 {
			t.Fatalf("%s has %d rows", name, len(rows))
		}
		last := rows[len(rows)-1]
		if last["field"] != "ip" || last["old_value"] == "" || last["new_value"] == "" || last["old_value_seen_at"] == "" || last["run_id"] != "2" {
			t.Errorf("%s does not end with the IP change of run 2: %v", name, last)
		}
		if rows[0]["old_value_seen_at"] != "" || rows[0]["old_value"] != "" || rows[0]["run_id"] != "1" {
			t.Errorf("%s does not start with the first sync: %v", name, rows[0])
		}
	}
	if last := gotRows[len(gotRows)-1]; last["old_value"] != changed[0].Old || last["new_value"] != changed[0].New {
		t.Errorf("the timeline's IP change is %s -> %s; the simulator changed %s -> %s", last["old_value"], last["new_value"], changed[0].Old, changed[0].New)
	}
}

// TestREADMERunSummarySample: the README's real output of a run on a
// terminal is what writePlainSummary prints today for that run's figures
// (run 2 of the README's walk: 10 devices due, 190 vouched for by the
// listing, 4 changed), word for word.
func TestREADMERunSummarySample(t *testing.T) {
	t.Parallel()
	sample := strings.Join(readmeSample(t, "Run 2 finished in 700ms: all 10 devices synced.")[:5], "\n")
	sum := syncrun.Summary{RunID: 2, Status: store.RunSucceeded, Total: 10, Duration: 700 * time.Millisecond,
		Counts:          store.FinalCounts{OK: 10, Changed: 4, Changes: 4},
		Requests:        12,
		Listing:         syncrun.ListingSummary{Status: syncrun.ListingComplete, Confirmed: 190, Requests: 2},
		DetailsAge:      store.DetailsAge{Devices: 200, WithDetails: 200, Oldest: 10 * time.Second, P99: 10 * time.Second},
		DetailsAgeKnown: true}
	var b strings.Builder
	writePlainSummary(&b, sum, -1)
	want := "\nRun 2 finished in 700ms: all 10 devices synced.\n" + sample + "\n"
	if b.String() != want {
		t.Errorf("README's run summary:\n%s\nthe code prints:\n%s", want, b.String())
	}
}
