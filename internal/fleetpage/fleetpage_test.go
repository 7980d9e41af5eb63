package fleetpage_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/fleetpage"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Names an attacker controls: they must show as text.
var (
	hostileScript = `<script>window.pwned=1</script>`
	hostileImg    = `"><img src=x onerror="window.pwned=2">`
	hostileLong   = strings.Repeat("<b>10KB</b> ", 853) // 10,236 bytes
	hostileError  = `<img src=x onerror="window.pwned=3">`
	hostileModel  = `<script>window.pwned=4</script> 8865`
)

// fleet is what seed put in the database, computed in Go from the same
// rules, so that the page's numbers are checked against an answer the
// page's SQL did not make.
type fleet struct {
	n                                 int
	status                            map[string]int // connection status as the page counts it
	models, software                  map[string]int // devices (gone left out)
	modelsGone, softwareGone          map[string]int // gone devices
	gone, failing, offline, connected int
	changes                           map[string]int // by field, the last 30 days, old value present
	fromAbsent                        int
}

var offlineStatuses = []string{"disconnected", "offline_expired", "offline_deep_sleep", "unknown", "pending"}

// seed fills the database with n devices (plus three with hostile names),
// their sync state, history over 40 days and 20 runs. Every 50th device is
// gone (Webex answers 404), and keeps the connection status "connected"
// it last had: the page must count it as gone.
func seed(t *testing.T, pool *pgxpool.Pool, n int) fleet {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("seed: %v\n%s", err, sql)
		}
	}
	exec(`
		INSERT INTO devices (device_id, model, manufacturer, software, connection_status, sync_status, display_name, product, last_error)
		SELECT 'dev-' || i,
		       CASE WHEN i % 7 = 0 THEN $2 ELSE 'Cisco ' || (7800 + i % 23) END,
		       'Cisco',
		       'sipx-14-' || (i % 300),
		       CASE WHEN i % 200 = 1 THEN NULL
		            WHEN i % 10 < 7 THEN 'connected' WHEN i % 10 = 7 THEN 'disconnected'
		            WHEN i % 10 = 8 THEN 'offline_expired' ELSE 'connected_with_issues' END,
		       CASE WHEN i % 50 = 0 THEN 'not_found' WHEN i % 61 = 0 THEN 'error' WHEN i % 73 = 0 THEN 'forbidden' ELSE 'ok' END,
		       'Phone ' || i, 'Cisco 8851',
		       CASE WHEN i % 50 <> 0 AND (i % 61 = 0 OR i % 73 = 0) THEN 'HTTP 500' END
		FROM generate_series(1, $1::int) i`, n, hostileModel)
	exec(`
		INSERT INTO devices (device_id, connection_status, sync_status, display_name, last_error)
		SELECT 'hostile-' || i, 'disconnected', 'error', name, $4
		FROM unnest(ARRAY[$1::text, $2, $3]) WITH ORDINALITY AS h(name, i)`, hostileScript, hostileImg, hostileLong, hostileError)
	exec(`
		INSERT INTO device_sync_state (device_id, last_attempt_at, last_synced_at, last_run_id, consecutive_failures, last_seen)
		SELECT device_id, now(),
		       CASE WHEN sync_status = 'ok' THEN now() - make_interval(hours => length(device_id) % 48) END,
		       20,
		       CASE WHEN device_id LIKE 'hostile-%' THEN 99 WHEN sync_status IN ('error', 'forbidden') THEN 1 ELSE 0 END,
		       CASE WHEN device_id NOT LIKE 'hostile-%' THEN now() - make_interval(mins => length(device_id)) END
		FROM devices`)
	m := max(n/10, 300)
	exec(`
		INSERT INTO device_changes (device_id, field, old_value, new_value, changed_at)
		SELECT 'dev-' || (k % $1 + 1), (ARRAY['activation_state', 'ip', 'mac'])[1 + k % 3], 'old', 'new',
		       now() - make_interval(hours => k % (24 * 29))
		FROM generate_series(1, $2::int) k`, n, m)
	// First values (a first sync 20 days ago), and changes older than the
	// page's 30 days.
	exec(`
		INSERT INTO device_changes (device_id, field, old_value, new_value, changed_at)
		SELECT 'dev-' || i, 'ip', NULL, '10.0.0.1', now() - interval '20 days' FROM generate_series(1, $1::int) i`, n)
	exec(`
		INSERT INTO device_changes (device_id, field, old_value, new_value, changed_at)
		SELECT 'dev-' || i, 'mac', 'a', 'b', now() - interval '40 days' FROM generate_series(1, 50) i`)
	exec(`
		INSERT INTO sync_runs (started_at, finished_at, updated_at, status, devices_total, devices_ok, devices_failed,
		                       devices_not_found, changes_recorded, listing_requests, details_requests, error)
		SELECT now() - make_interval(hours => 21 - r), now() - make_interval(hours => 21 - r) + interval '95 seconds',
		       now() - make_interval(hours => 21 - r) + interval '95 seconds',
		       CASE WHEN r = 19 THEN 'failed' WHEN r = 20 THEN 'partial' ELSE 'succeeded' END,
		       $1, $1 - 5, 5, 0, r * 3, $1 / 100 + 1, r * 7,
		       CASE WHEN r = 19 THEN $2 END
		FROM generate_series(1, 20) r`, n, hostileScript)

	f := fleet{n: n, status: map[string]int{}, models: map[string]int{}, software: map[string]int{}, changes: map[string]int{},
		modelsGone: map[string]int{}, softwareGone: map[string]int{}}
	for i := 1; i <= n; i++ {
		status := "connected"
		switch {
		case i%200 == 1:
			status = "not listed"
		case i%10 < 7:
		case i%10 == 7:
			status = "disconnected"
		case i%10 == 8:
			status = "offline_expired"
		default:
			status = "connected_with_issues"
		}
		model := fmt.Sprintf("Cisco %d", 7800+i%23)
		if i%7 == 0 {
			model = hostileModel
		}
		software := fmt.Sprintf("sipx-14-%d", i%300)
		if i%50 == 0 {
			f.gone++
			f.status["gone"]++
			// A category of gone devices only is a row with 0 devices.
			f.models[model] += 0
			f.software[software] += 0
			f.modelsGone[model]++
			f.softwareGone[software]++
			continue
		}
		f.status[status]++
		if status == "connected" {
			f.connected++
		}
		if slices.Contains(offlineStatuses, status) {
			f.offline++
		}
		if i%61 == 0 || i%73 == 0 {
			f.failing++
		}
		f.models[model]++
		f.software[software]++
	}
	f.status["disconnected"] += 3
	f.offline += 3
	f.failing += 3
	f.models["(not yet synced)"] += 3
	f.software["(not listed yet)"] += 3
	for k := 1; k <= m; k++ {
		f.changes[[]string{"activation_state", "ip", "mac"}[k%3]]++
	}
	f.fromAbsent = n
	return f
}

// barValues is a chart's bars by label; the summed tail under "other".
func barValues(c fleetpage.BarChart) map[string]int {
	m := map[string]int{}
	for _, b := range c.Bars {
		label := b.Label
		if b.Other {
			label = "other"
		}
		m[label] = b.Value
	}
	return m
}

// topWithOther is what a chart of counts with at most maxBars bars must
// show: the largest maxBars-1, the rest summed. Ties are broken by label,
// as the SQL does: by gone devices, then by label.
func topWithOther(counts, gone map[string]int, maxBars int) map[string]int {
	labels := slices.Collect(maps.Keys(counts))
	slices.SortFunc(labels, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		if gone[a] != gone[b] {
			return gone[b] - gone[a]
		}
		return strings.Compare(a, b)
	})
	if len(labels) <= maxBars {
		return maps.Clone(counts)
	}
	out := map[string]int{}
	for _, l := range labels[:maxBars-1] {
		out[l] = counts[l]
	}
	for _, l := range labels[maxBars-1:] {
		out["other"] += counts[l]
	}
	return out
}

func TestPageCountsTheFleet(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	f := seed(t, pool, 2000)
	p, err := fleetpage.Load(context.Background(), pool, fleetpage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Summary
	got := [5]int{s.Devices, s.Gone, s.Failing, s.Offline, s.NeverSynced}
	want := [5]int{f.n + 3, f.gone, f.failing, f.offline, f.gone + f.failing}
	if got != want {
		t.Errorf("summary devices, gone, failing, offline, never synced = %v, want %v", got, want)
	}
	if s.LastSynced == "" || s.LastSuccess == "" {
		t.Errorf("summary %+v: want the last sync and the last successful run", s)
	}
	if d := cmp.Diff(f.status, barValues(p.Status)); d != "" {
		t.Errorf("connection status chart (-want +got): a gone device counts as gone, never as connected\n%s", d)
	}
	if d := cmp.Diff(topWithOther(f.models, f.modelsGone, 12), barValues(p.Models)); d != "" {
		t.Errorf("model chart (-want +got):\n%s", d)
	}
	if d := cmp.Diff(topWithOther(f.software, f.softwareGone, 12), barValues(p.Software)); d != "" {
		t.Errorf("software chart (-want +got):\n%s", d)
	}
	if p.Software.Kinds != len(f.software) || len(p.Software.Bars) != 12 || p.Software.Bars[11].Label != fmt.Sprintf("%d others", len(f.software)-11) {
		t.Errorf("software chart: %d kinds, %d bars, last %q; want %d kinds in 12 bars, the tail summed", p.Software.Kinds, len(p.Software.Bars), p.Software.Bars[len(p.Software.Bars)-1].Label, len(f.software))
	}
	if len(p.Changes.Days) != 30 {
		t.Fatalf("%d days of changes, want 30", len(p.Changes.Days))
	}
	byField := map[string]int{}
	for _, d := range p.Changes.Days {
		for _, seg := range d.Segments {
			byField[seg.Field] += seg.Value
		}
	}
	wantFields := map[string]int{"activation state": f.changes["activation_state"], "IP address": f.changes["ip"], "MAC address": f.changes["mac"]}
	if d := cmp.Diff(wantFields, byField); d != "" || p.Changes.Absent != f.fromAbsent {
		t.Errorf("changes over 30 days (-want +got):\n%s\nfrom absent %d, want %d", d, p.Changes.Absent, f.fromAbsent)
	}
	if p.Offline.Total != f.offline || len(p.Offline.Rows) != 25 || p.Offline.Rows[0][0].Text != hostileScript {
		t.Errorf("offline list: %d of %d, first %q; want 25 of %d, the never-seen first", len(p.Offline.Rows), p.Offline.Total, p.Offline.Rows[0][0].Text, f.offline)
	}
	if p.Failing.Total != f.failing || len(p.Failing.Rows) != 25 {
		t.Errorf("failing list: %d of %d; want 25 of %d", len(p.Failing.Rows), p.Failing.Total, f.failing)
	}
	if len(p.Runs.Rows) != 15 || p.Runs.Rows[0][2].Text != "partial" || p.Runs.Rows[1][2].Text != "failed" {
		t.Errorf("runs: %d rows, the latest %v", len(p.Runs.Rows), p.Runs.Rows[0])
	}
}

// The page in a real browser, at 1,000 and 100,000 devices: it renders
// with no console error and no request but its own load, its charts,
// legends, axis labels and tables are there, nothing scrolls sideways on a
// laptop's 1280 pixels, and the hostile names show as text.
func TestPageRendersInChromium(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1000, 100_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pool := pgtest.DB(t)
			seed(t, pool, n)
			p, err := fleetpage.Load(context.Background(), pool, fleetpage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := p.Write(&buf); err != nil {
				t.Fatal(err)
			}
			dir := artifactDir(t)
			file := filepath.Join(dir, fmt.Sprintf("fleet-page-%d.html", n))
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			v := browse(t, file, strings.TrimSuffix(file, ".html")+".png", 1280)
			checkVisit(t, v, file)
			fa := v.Facts
			wantBars := len(p.Status.Bars) + len(p.Models.Bars) + len(p.Software.Bars)
			if fa.Charts != 4 || fa.Bars != wantBars || fa.Segments == 0 || fa.Legends < 8 || fa.Tables < 7 {
				t.Errorf("charts %d (want 4), bars %d (want %d), day segments %d, legend items %d, tables %d", fa.Charts, fa.Bars, wantBars, fa.Segments, fa.Legends, fa.Tables)
			}
			for _, want := range []string{"devices", "changes per day", "day (UTC, month-day)", "14 others", "290 others", "<script>window.pwned=4</s…"} {
				if !slices.ContainsFunc(fa.ChartText, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("no chart text %q (axis labels, bar labels)", want)
				}
			}
			for _, want := range []string{hostileScript, hostileImg, strings.TrimSpace(hostileLong), hostileError, hostileModel,
				"the other models, summed", "the other software versions, summed"} {
				if !strings.Contains(fa.Text, want) {
					t.Errorf("the page does not show %.60q as text", want)
				}
			}
		})
	}
}

// checkVisit holds what every page the job writes must do in a browser.
func checkVisit(t *testing.T, v visit, file string) {
	t.Helper()
	if len(v.Errors) > 0 {
		t.Errorf("console errors: %q", v.Errors)
	}
	if !slices.Equal(v.Requests, []string{"file://" + file}) {
		t.Errorf("requests %q: want the page's own load only", v.Requests)
	}
	fa := v.Facts
	if fa.Scripts != 0 || fa.Images != 0 || fa.Pwned {
		t.Errorf("%d scripts, %d images, pwned %v: a hostile value became markup", fa.Scripts, fa.Images, fa.Pwned)
	}
	if fa.ScrollWidth > fa.ClientWidth {
		t.Errorf("the page is %d px wide in a %d px window: it scrolls sideways", fa.ScrollWidth, fa.ClientWidth)
	}
	// Long values wrap anywhere so that the page fits; a short word
	// ("succeeded", "disconnected") stays whole.
	if len(fa.BrokenWords) > 0 {
		t.Errorf("short values broken across lines: %q", fa.BrokenWords)
	}
}

// report --format html in a real browser: the hostile values of a
// report's rows show as text, the page fetches nothing and fits.
func TestReportHTMLRendersInChromium(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	res := report.Result{
		Columns: []string{"device_id", "display_name", "failures", "last_error"},
		Kinds:   []report.Kind{report.KindText, report.KindText, report.KindNumber, report.KindText},
		Rows: [][]*string{
			{s("dev-1"), s(hostileScript), s("3"), s(hostileError)},
			{s("dev-2"), s(hostileImg), s("1"), nil},
			{s("dev-3"), s(hostileLong), s("12"), s(strings.Repeat("x", 5000))},
		},
	}
	var buf bytes.Buffer
	if err := res.WriteOutput(&buf, report.Output{Format: "html", Title: "failing_devices", Description: hostileImg}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(artifactDir(t), "report-html.html")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	v := browse(t, file, filepath.Join(artifactDir(t), "report-html.png"), 1280)
	checkVisit(t, v, file)
	for _, want := range []string{hostileScript, hostileImg, strings.TrimSpace(hostileLong), hostileError, "3 rows."} {
		if !strings.Contains(v.Facts.Text, want) {
			t.Errorf("the page does not show %.60q as text", want)
		}
	}
	if v.Facts.Tables != 1 {
		t.Errorf("%d tables, want 1", v.Facts.Tables)
	}
}

// The page says its times are UTC, and they are whatever time zone the
// database's sessions print in: Asia/Kolkata's +05:30 and Nepal's +05:45
// as well as a whole-hour offset (ALTER DATABASE ... SET timezone, or a
// server whose postgresql.conf names the machine's zone).
func TestPageTimesAreUTCInEveryTimeZone(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DBURL(t)
	seeded, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, seeded, 50)
	seeded.Close()
	for _, zone := range []string{"UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"} {
		t.Run(zone, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.RuntimeParams["timezone"] = zone
			pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var want string
			if err := pool.QueryRow(context.Background(),
				`SELECT to_char(max(last_synced_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"') FROM device_sync_state`).Scan(&want); err != nil {
				t.Fatal(err)
			}
			p, err := fleetpage.Load(context.Background(), pool, fleetpage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Summary.LastSynced != want {
				t.Errorf("inventory last synced %q, want %q (UTC)", p.Summary.LastSynced, want)
			}
			for _, row := range p.Runs.Rows {
				if at := row[3].Text; !strings.HasSuffix(at, "Z") || len(at) != len("2006-01-02 15:04:05Z") {
					t.Errorf("runs: started_at %q, want UTC to the second", at)
				}
			}
		})
	}
}

// The changes chart labels its days apart enough to read at any
// --param days: every five days for a month, fewer for a year, and the
// last day always.
func TestChangesChartLabelsDoNotOverlap(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	for _, days := range []int{7, 30, 90, 365, 2000} {
		p, err := fleetpage.Load(context.Background(), pool, fleetpage.Options{Days: days})
		if err != nil {
			t.Fatal(err)
		}
		var labelled []fleetpage.Day
		for _, d := range p.Changes.Days {
			if d.Label != "" {
				labelled = append(labelled, d)
			}
		}
		if len(labelled) < 2 || labelled[len(labelled)-1].Date != p.Changes.Days[len(p.Changes.Days)-1].Date {
			t.Errorf("days=%d: %d labels, want at least 2, the last day's among them", days, len(labelled))
			continue
		}
		for i := 1; i < len(labelled); i++ {
			// A label is at most 10 characters of 12 px text: about 7 px each.
			a, b := labelled[i-1], labelled[i]
			if gap, need := b.LabelX-a.LabelX, 7.5*float64(max(len(a.Label), len(b.Label))); gap < need {
				t.Errorf("days=%d: labels %q and %q are %.1f px apart, want at least %.1f", days, a.Label, b.Label, gap, need)
				break
			}
		}
		// The chart's viewBox is 640 px wide: the last label must not be cut.
		if last := labelled[len(labelled)-1]; last.LabelX+3.75*float64(len(last.Label)) > 640 {
			t.Errorf("days=%d: the last label %q, centred at %.1f px, runs past the chart's 640 px", days, last.Label, last.LabelX)
		}
		if days == 30 && len(labelled) != 6 {
			t.Errorf("days=30: %d labels, want one every five days (6)", len(labelled))
		}
	}
}
