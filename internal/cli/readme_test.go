package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// TestREADMEReportSamples: the README's "Real output" samples have the
// columns the reports have today, as the job's tables and as psql prints
// them (IDs whole), so that a sample cannot silently go stale.
func TestREADMEReportSamples(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "Real output, on the demo database")
	if i < 0 {
		t.Fatal("README.md has no real output sample")
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
			t.Errorf("README's sample of %s has the columns %v; the report has %v", name, header, cols)
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
