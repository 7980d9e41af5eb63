// Package fleetpage writes the fleet page: one self-contained HTML file
// with what an admin looks at first (devices by connection status, model
// and software version; offline and failing devices; changes per day; the
// last runs; when the inventory last synced). Its data comes from the SQL
// files in queries/page, run through internal/report; it aggregates in the
// database, so that the page is the same size for 1,000 devices or
// 1,000,000. No script, font or image is fetched or run: inline CSS and
// SVG only, every value escaped by html/template.
package fleetpage

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/queries"
)

// Options size the page.
type Options struct {
	Days     int // changes per day over this many days; default 30
	Runs     int // the last runs shown; default 15
	ListRows int // rows of the offline and failing lists; default 25
	MaxBars  int // bars of a category chart, the long tail summed in the last; default 12
}

func (o *Options) defaults() {
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.Runs <= 0 {
		o.Runs = 15
	}
	if o.ListRows <= 0 {
		o.ListRows = 25
	}
	if o.MaxBars < 2 {
		o.MaxBars = 12
	}
}

// Page is what the page shows.
type Page struct {
	Generated time.Time
	Days      int
	Summary   Summary
	Status    BarChart
	Models    BarChart
	Software  BarChart
	Changes   DayChart
	Offline   Table
	Failing   Table
	Runs      Table
}

// Summary is the page's headline.
type Summary struct {
	Devices, Gone, Failing, Offline, NeverSynced int
	LastSynced, LastSuccess, LastRun             string // UTC, to the second; "" never
}

// Table is a list as the page shows it: the first rows of a longer list,
// and how many there are in all.
type Table struct {
	Columns []report.Column
	Rows    [][]Cell
	Total   int // rows in all (the list shows the first len(Rows))
}

// Cell is one value of a Table.
type Cell struct {
	Text    string
	Null    bool
	Numeric bool
}

// Load reads the page's data.
func Load(ctx context.Context, db report.Querier, o Options) (*Page, error) {
	o.defaults()
	p := &Page{Generated: time.Now().UTC(), Days: o.Days}
	sum, err := run(ctx, db, "summary", nil)
	if err != nil {
		return nil, err
	}
	if len(sum.Rows) == 1 {
		r := row(sum, 0)
		p.Summary = Summary{Devices: r.int("devices"), Gone: r.int("gone"), Failing: r.int("failing"),
			Offline: r.int("offline"), NeverSynced: r.int("never_synced"),
			LastSynced: r.time("last_synced_at"), LastSuccess: r.time("last_success_at"), LastRun: r.time("last_run_at")}
	}

	status, err := run(ctx, db, "connection_status", nil)
	if err != nil {
		return nil, err
	}
	p.Status = categoryChart("status", "devices", status, "status", []string{"devices"}, o.MaxBars)
	for i := range p.Status.Bars {
		p.Status.Bars[i].Class = statusClass(p.Status.Bars[i].Label)
	}
	p.Status.Legend = statusLegend

	models, err := run(ctx, db, "models", nil)
	if err != nil {
		return nil, err
	}
	p.Models = categoryChart("model", "devices", models, "model", []string{"devices", "gone"}, o.MaxBars)

	software, err := run(ctx, db, "software", nil)
	if err != nil {
		return nil, err
	}
	p.Software = categoryChart("software version", "devices", software, "software", []string{"devices", "connected", "gone"}, o.MaxBars)

	changes, err := run(ctx, db, "changes_per_day", map[string]string{"days": strconv.Itoa(o.Days)})
	if err != nil {
		return nil, err
	}
	p.Changes = dayChart(changes)

	limit := map[string]string{"limit": strconv.Itoa(o.ListRows)}
	offline, err := run(ctx, db, "offline", limit)
	if err != nil {
		return nil, err
	}
	p.Offline = table(offline, p.Summary.Offline)
	failing, err := run(ctx, db, "failing", limit)
	if err != nil {
		return nil, err
	}
	p.Failing = table(failing, p.Summary.Failing)
	runs, err := run(ctx, db, "runs", map[string]string{"limit": strconv.Itoa(o.Runs)})
	if err != nil {
		return nil, err
	}
	p.Runs = table(runs, len(runs.Rows))
	return p, nil
}

// Write writes the page.
func (p *Page) Write(w io.Writer) error {
	return pageTemplate.Execute(w, p)
}

// run runs one of the page's queries.
func run(ctx context.Context, db report.Querier, name string, params map[string]string) (report.Result, error) {
	b, err := fs.ReadFile(queries.Page(), name+".sql")
	if err != nil {
		return report.Result{}, err
	}
	r, err := report.Parse(name, string(b))
	if err != nil {
		return report.Result{}, err
	}
	res, err := r.Run(ctx, db, params)
	if err != nil {
		return report.Result{}, fmt.Errorf("fleet page: %w", err)
	}
	return res, nil
}

// resultRow reads a result's row by column name.
type resultRow struct {
	cols []string
	vals []*string
}

func row(res report.Result, i int) resultRow { return resultRow{res.Columns, res.Rows[i]} }

func (r resultRow) str(name string) (string, bool) {
	for i, c := range r.cols {
		if c == name {
			if r.vals[i] == nil {
				return "", false
			}
			return *r.vals[i], true
		}
	}
	panic("fleetpage: no column " + name) // the queries are ours: a typo is a bug
}

func (r resultRow) int(name string) int {
	s, _ := r.str(name)
	n, _ := strconv.Atoi(s)
	return n
}

// time is a timestamptz value to the second, in UTC.
func (r resultRow) time(name string) string {
	s, ok := r.str(name)
	if !ok {
		return ""
	}
	return utc(s)
}

// pgTimestamptz are the ways PostgreSQL prints a timestamptz (DateStyle
// ISO) in the session's time zone: a whole-hour offset, an offset with
// minutes (+05:30) or, for zones before standard time, with seconds.
var pgTimestamptz = []string{
	"2006-01-02 15:04:05.999999-07",
	"2006-01-02 15:04:05.999999-07:00",
	"2006-01-02 15:04:05.999999-07:00:00",
}

// utc is a timestamptz value as PostgreSQL printed it, to the second in
// UTC: the page says its times are UTC, whatever the time zone of the
// database's sessions (ALTER DATABASE ... SET timezone, or the server's
// own). A value it cannot read is shown as it came.
func utc(s string) string {
	for _, layout := range pgTimestamptz {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
	}
	return s
}

func table(res report.Result, total int) Table {
	t := Table{Total: max(total, len(res.Rows))}
	for i, c := range res.Columns {
		k := report.KindText
		if i < len(res.Kinds) {
			k = res.Kinds[i]
		}
		t.Columns = append(t.Columns, report.Column{Name: c, Kind: k})
	}
	for _, vals := range res.Rows {
		cells := make([]Cell, len(vals))
		for i, v := range vals {
			c := Cell{Null: v == nil, Numeric: t.Columns[i].Kind == report.KindNumber}
			if v != nil {
				c.Text = *v
				if n, err := strconv.Atoi(c.Text); err == nil && c.Numeric && !strings.HasSuffix(t.Columns[i].Name, "_id") {
					c.Text = thousands(n)
				}
				if t.Columns[i].Kind == report.KindTime {
					c.Text = utc(c.Text)
				}
			}
			cells[i] = c
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// cut shortens a chart label to n runes; the table beside the chart has
// it whole.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// thousands spells n with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
