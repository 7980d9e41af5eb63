package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
)

// chartRow is one bar: a median with its min-max whisker.
type chartRow struct {
	label            string
	median, min, max float64
	fill             color.RGBA
	target           float64 // drawn as a mark; 0 for none
}

var (
	colCeiling = color.RGBA{0x9e, 0x9e, 0x9e, 0xff}
	colDerived = color.RGBA{0x61, 0x61, 0x61, 0xff}
	colJob     = color.RGBA{0x1e, 0x88, 0xe5, 0xff}
	colPacing  = color.RGBA{0x43, 0xa0, 0x47, 0xff}
	colNaive   = color.RGBA{0xe5, 0x39, 0x35, 0xff}
	colText    = color.RGBA{0x21, 0x21, 0x21, 0xff}
	colGrid    = color.RGBA{0xe0, 0xe0, 0xe0, 0xff}
)

func (r *Results) chartRows() []chartRow {
	var rows []chartRow
	add := func(name, label string, fill color.RGBA) {
		if f := r.Figure(name); f != nil && len(f.Samples) > 0 {
			rows = append(rows, chartRow{label: label, median: f.Median, min: f.Min, max: f.Max, fill: fill})
		}
	}
	add(FigHTTPRaw, "H0: HTTP GET only, raw", colCeiling)
	add(FigHTTP, "H: HTTP GET+decode only", colCeiling)
	add(FigStoreFirst, "P: store only, first", colCeiling)
	if c, ok := r.Ratios["combined_ceiling_first"]; ok {
		rows = append(rows, chartRow{label: "1/(1/H+1/P), first", median: c, min: c, max: c, fill: colDerived})
	}
	add(FigFullFirst, "job: full sync, first", colJob)
	add(FigNaive, "naive script, first", colNaive)
	add(FigStoreResync, "P': store only, re-sync", colCeiling)
	if c, ok := r.Ratios["combined_ceiling_resync"]; ok {
		rows = append(rows, chartRow{label: "1/(1/H+1/P'), re-sync", median: c, min: c, max: c, fill: colDerived})
	}
	add(FigFullResync, "job: full sync, re-sync", colJob)
	rate := r.Config.PacingRate
	add(FigPacingR, fmt.Sprintf("job: server limit R=%g", rate), colPacing)
	add(FigPacingHalf, fmt.Sprintf("job: server limit R/2=%g", rate/2), colPacing)
	add(FigPacingLong, fmt.Sprintf("job: server limit R/2=%g, long", rate/2), colPacing)
	for i := range rows {
		switch rows[i].label {
		case fmt.Sprintf("job: server limit R=%g", rate):
			rows[i].target = rate
		case fmt.Sprintf("job: server limit R/2=%g", rate/2), fmt.Sprintf("job: server limit R/2=%g, long", rate/2):
			rows[i].target = rate / 2
		}
	}
	return rows
}

// WriteChart draws devices per second for each scenario as horizontal bars
// on a log scale, with min-max whiskers, as a PNG.
func (r *Results) WriteChart(w io.Writer) error {
	rows := r.chartRows()
	const (
		width    = 1280
		left     = 16
		labelW   = 31 * charWidth // the longest label, "job: server limit R/2=25, long", and a space
		plotX0   = left + labelW + 8
		plotX1   = width - 170
		top      = 70
		rowH     = 40
		barH     = 22
		bottomPd = 70
	)
	height := top + len(rows)*rowH + bottomPd
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)

	drawText(img, left, 14, fmt.Sprintf("wxc-sync benchmark: devices/s, %d devices, %d CPUs (log scale)", r.Config.Devices, r.Machine.CPUs), colText)
	drawText(img, left, 14+textHeight+8, "bar = median, line = min-max, red mark = server limit. pacing: accepted requests/s", colDerived)

	lo, hi := 1.0, 10.0
	for _, row := range rows {
		for hi < row.max*1.05 {
			hi *= 10
		}
	}
	lo = 10
	for _, row := range rows {
		for row.min > 0 && lo > row.min {
			lo /= 10
		}
	}
	xOf := func(v float64) int {
		if v <= lo {
			return plotX0
		}
		return plotX0 + int(float64(plotX1-plotX0)*math.Log10(v/lo)/math.Log10(hi/lo))
	}
	plotBottom := top + len(rows)*rowH
	for d := lo; d <= hi*1.0001; d *= 10 {
		x := xOf(d)
		fill(img, x, top-6, x+1, plotBottom, colGrid)
		lbl := shortNum(d)
		drawText(img, x-textWidth(lbl)/2, plotBottom+8, lbl, colText)
	}
	drawText(img, plotX0, plotBottom+8+textHeight+10, "devices per second", colDerived)

	for i, row := range rows {
		y := top + i*rowH
		drawText(img, left, y+(barH-textHeight)/2, row.label, colText)
		fill(img, plotX0, y, xOf(row.median), y+barH, row.fill)
		if row.max > row.min {
			cy := y + barH/2
			x0, x1 := xOf(row.min), xOf(row.max)
			fill(img, x0, cy-1, x1+1, cy+1, colText)
			fill(img, x0, cy-6, x0+2, cy+6, colText)
			fill(img, x1-1, cy-6, x1+1, cy+6, colText)
		}
		if row.target > 0 {
			x := xOf(row.target)
			fill(img, x-1, y-4, x+2, y+barH+4, colNaive)
		}
		val := shortNum(row.median)
		drawText(img, max(xOf(row.median), xOf(row.max), xOf(row.target)+2)+8, y+(barH-textHeight)/2, val, colText)
	}
	return png.Encode(w, img)
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

// shortNum spells a rate compactly: 950, 12.3K, 1.2M.
func shortNum(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e4:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "K"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return trimZero(fmt.Sprintf("%.1f", v))
	}
}

func trimZero(s string) string {
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
