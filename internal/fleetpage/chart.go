package fleetpage

import (
	"fmt"
	"math"

	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// The charts are SVG drawn at a fixed size in a viewBox that the page
// scales to its column: nothing scrolls sideways at any fleet size,
// because a chart has at most MaxBars bars or one column a day.
const (
	chartW      = 640
	labelW      = 210 // left of a horizontal bar
	valueW      = 70  // right of a horizontal bar, for its number
	barH        = 20
	barGap      = 6
	axisH       = 44 // below the bars: ticks, numbers, the axis label
	labelRunes  = 26
	labelCharW  = 7.5 // px of a character of the charts' 12 px text, at most
	dayChartH   = 260
	dayPlotLeft = 56
	dayPlotTop  = 12
)

// Bar is one bar of a category chart.
type Bar struct {
	Label string // whole, for the tooltip
	Short string // cut to fit the chart
	Value int
	Class string // fill: one of the page's fills (see the template)
	Y, W  float64
	// Other is true for the bar that sums the long tail.
	Other bool
}

// Tick is an axis tick: where it is and what it reads.
type Tick struct {
	At    float64
	Label string
}

// BarChart is a horizontal bar chart of categories, with the table of
// its numbers.
type BarChart struct {
	What, Unit string // what a bar is (model) and what it counts (devices)
	Bars       []Bar
	Ticks      []Tick
	Height     float64
	PlotW      float64
	Legend     []LegendItem
	Table      Table // every category, the tail summed as in the chart
	Kinds      int   // categories in all
}

// LegendItem is a swatch of the legend.
type LegendItem struct {
	Class, Label string
}

// categoryChart draws res's first column against the column value, the
// largest first, with at most maxBars bars: the rest are summed into one
// "other" bar. The table beside it keeps the columns cols, summed the same
// way.
func categoryChart(what, unit string, res report.Result, labelCol string, cols []string, maxBars int) BarChart {
	c := BarChart{What: what, Unit: unit, Kinds: len(res.Rows)}
	type item struct {
		label string
		vals  []int
	}
	var items []item
	for i := range res.Rows {
		r := row(res, i)
		l, _ := r.str(labelCol)
		it := item{label: l}
		for _, col := range cols {
			it.vals = append(it.vals, r.int(col))
		}
		items = append(items, it)
	}
	if len(items) > maxBars {
		other := item{label: fmt.Sprintf("%d others", len(items)-maxBars+1), vals: make([]int, len(cols))}
		for _, it := range items[maxBars-1:] {
			for j, v := range it.vals {
				other.vals[j] += v
			}
		}
		items = append(items[:maxBars-1:maxBars-1], other)
	}
	top := 0
	for _, it := range items {
		top = max(top, it.vals[0])
	}
	axisMax, ticks := niceAxis(top)
	c.PlotW = chartW - labelW - valueW
	for i, it := range items {
		b := Bar{Label: it.label, Short: cut(it.label, labelRunes), Value: it.vals[0], Class: "f1",
			Y: float64(i * (barH + barGap)), Other: i == len(items)-1 && c.Kinds > maxBars}
		if b.Other {
			b.Class = "f3"
		}
		if axisMax > 0 {
			b.W = c.PlotW * float64(b.Value) / float64(axisMax)
		}
		c.Bars = append(c.Bars, b)
	}
	for _, t := range ticks {
		c.Ticks = append(c.Ticks, Tick{At: c.PlotW * float64(t) / float64(max(axisMax, 1)), Label: thousands(t)})
	}
	c.Height = float64(len(items)*(barH+barGap)) + axisH
	c.Legend = []LegendItem{{"f1", unit + " per " + what}}
	if c.Kinds > maxBars {
		c.Legend = append(c.Legend, LegendItem{"f3", "the other " + what + "s, summed"})
	}
	c.Table.Columns = []report.Column{{Name: labelCol}}
	for _, col := range cols {
		c.Table.Columns = append(c.Table.Columns, report.Column{Name: col, Kind: report.KindNumber})
	}
	for _, it := range items {
		cells := []Cell{{Text: it.label}}
		for _, v := range it.vals {
			cells = append(cells, Cell{Text: thousands(v), Numeric: true})
		}
		c.Table.Rows = append(c.Table.Rows, cells)
	}
	c.Table.Total = len(items)
	return c
}

// niceAxis returns an axis end at or above top, on a 1, 2 or 5 step, and
// its ticks (0 included, at most 6).
func niceAxis(top int) (int, []int) {
	if top <= 0 {
		return 1, []int{0, 1}
	}
	raw := float64(top) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	s := max(int(step), 1)
	end := ((top + s - 1) / s) * s
	var ticks []int
	for t := 0; t <= end; t += s {
		ticks = append(ticks, t)
	}
	return end, ticks
}

// statusClass is the fill of a connection status: solid and dark for
// connected, hatched for trouble, light for the rest, so that the chart
// reads in grey scale.
func statusClass(s string) string {
	switch s {
	case "connected":
		return "f1"
	case "connected_with_issues", "activating":
		return "f2"
	case "gone":
		return "f4"
	case "disconnected", "offline_expired", "offline_deep_sleep", "unknown", "pending":
		return "f5"
	}
	return "f3"
}

var statusLegend = []LegendItem{
	{"f1", "connected"}, {"f2", "connected with issues, activating"},
	{"f5", "offline (disconnected, expired, deep sleep, unknown, pending)"},
	{"f4", "gone (Webex answers 404)"}, {"f3", "not listed yet"},
}

// Day is one column of the changes chart.
type Day struct {
	Date     string
	Label    string  // every few days, for the axis
	LabelX   float64 // where the label is centred
	X, W     float64
	Segments []Segment
	Total    int
}

// Segment is one field's part of a day's column.
type Segment struct {
	Field string
	Class string
	Value int
	Y, H  float64
}

// DayChart is the changes per day, stacked by field.
type DayChart struct {
	Days    []Day
	Ticks   []Tick // on the y axis: At is the y
	PlotW   float64
	PlotH   float64
	Left    float64
	Top     float64
	Legend  []LegendItem
	Table   Table
	XLabel  string // the x axis's title
	Changes int    // in all, over the days
	Absent  int    // from_absent rows over the days
}

// dayFields are the stacked fields, bottom first, with their fills.
var dayFields = []struct{ col, class, label string }{
	{"activation_state", "f1", "activation state"},
	{"ip", "f2", "IP address"},
	{"mac", "f4", "MAC address"},
}

func dayChart(res report.Result) DayChart {
	c := DayChart{Left: dayPlotLeft, Top: dayPlotTop, PlotW: chartW - dayPlotLeft - 8, PlotH: dayChartH - dayPlotTop - 48}
	top := 0
	for i := range res.Rows {
		r := row(res, i)
		d := Day{}
		d.Date, _ = r.str("day")
		for _, f := range dayFields {
			v := r.int(f.col)
			d.Segments = append(d.Segments, Segment{Field: f.label, Class: f.class, Value: v})
			d.Total += v
		}
		c.Changes += d.Total
		c.Absent += r.int("from_absent")
		top = max(top, d.Total)
		c.Days = append(c.Days, d)
		cells := []Cell{{Text: d.Date}}
		for _, s := range d.Segments {
			cells = append(cells, Cell{Text: thousands(s.Value), Numeric: true})
		}
		cells = append(cells, Cell{Text: thousands(r.int("from_absent")), Numeric: true})
		c.Table.Rows = append(c.Table.Rows, cells)
	}
	c.Table.Columns = []report.Column{{Name: "day"}}
	for _, f := range dayFields {
		c.Table.Columns = append(c.Table.Columns, report.Column{Name: f.col, Kind: report.KindNumber})
	}
	c.Table.Columns = append(c.Table.Columns, report.Column{Name: "from_absent", Kind: report.KindNumber})
	c.Table.Total = len(c.Table.Rows)
	axisMax, ticks := niceAxis(top)
	n := max(len(c.Days), 1)
	slot := c.PlotW / float64(n)
	// Labels every five days, or further apart when the days are too
	// narrow for that; over more than a year a label names the year too.
	label := shortDate
	c.XLabel = "day (UTC, month-day)"
	if n > 366 {
		label, c.XLabel = func(d string) string { return d }, "day (UTC)"
	}
	labelW := labelCharW*float64(len(label("2006-01-02"))) + 8
	step := max(5, int(math.Ceil(labelW/slot)))
	for i := range c.Days {
		d := &c.Days[i]
		d.X, d.W = c.Left+float64(i)*slot+slot*0.15, slot*0.7
		if i%step == (n-1)%step { // the last day always has its label
			d.Label = label(d.Date)
			// Centred under the day, but inside the chart.
			d.LabelX = min(d.X+d.W/2, chartW-labelCharW*float64(len(d.Label))/2-2)
		}
		y := c.Top + c.PlotH
		for j := range d.Segments {
			s := &d.Segments[j]
			s.H = c.PlotH * float64(s.Value) / float64(axisMax)
			y -= s.H
			s.Y = y
		}
	}
	// The last label, moved left to stay inside the chart, may now crowd
	// the one before it: that one goes.
	next := math.Inf(1)
	for i := len(c.Days) - 1; i >= 0; i-- {
		d := &c.Days[i]
		if d.Label == "" {
			continue
		}
		if next-d.LabelX < labelW {
			d.Label = ""
			continue
		}
		next = d.LabelX
	}
	for _, t := range ticks {
		c.Ticks = append(c.Ticks, Tick{At: c.Top + c.PlotH - c.PlotH*float64(t)/float64(axisMax), Label: thousands(t)})
	}
	for _, f := range dayFields {
		c.Legend = append(c.Legend, LegendItem{f.class, f.label})
	}
	return c
}

// shortDate is "11-28" for "2026-11-28".
func shortDate(d string) string {
	if len(d) == len("2006-01-02") {
		return d[5:]
	}
	return d
}
