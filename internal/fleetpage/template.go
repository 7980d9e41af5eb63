package fleetpage

import (
	"fmt"
	"html/template"

	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// The fills: distinct in lightness and pattern, so that a grey-scale
// print tells them apart. f1 dark solid, f2 mid with diagonal hatching, f3
// light solid, f4 light with a dark cross-hatch, f5 mid-dark with dots.
const fillDefs = `<defs>
<pattern id="p-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#7d9bd1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#1d2f57" stroke-width="2.5"/></pattern>
<pattern id="p-cross" width="7" height="7" patternUnits="userSpaceOnUse"><rect width="7" height="7" fill="#f1e3c4"/><path d="M0 0L7 7M7 0L0 7" stroke="#5a4620" stroke-width="1.2"/></pattern>
<pattern id="p-dots" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#a9542f"/><circle cx="2.5" cy="2.5" r="1.2" fill="#fff"/></pattern>
</defs>`

var funcs = template.FuncMap{
	"thousands": thousands,
	"f":         func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"add":       func(a, b float64) float64 { return a + b },
	"half":      func(a float64) float64 { return a / 2 },
	"neg":       func(a float64) float64 { return -a },
	"num":       func(c report.Column) bool { return c.Kind == report.KindNumber },
	"more":      func(t Table) int { return t.Total - len(t.Rows) },
	"short":     report.Short,
	"header":    report.Header,
}

var pageTemplate = template.Must(template.New("page").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Webex Calling fleet: wxc-sync</title>
<style>` + report.PageCSS + `
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 4px}
.card{border:1px solid #999;border-radius:4px;padding:6px 12px;min-width:130px}
.card b{display:block;font-size:22px}
.pair{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.pair>.chart{flex:3 1 520px;min-width:0}
.pair>.numbers{flex:2 1 300px;min-width:0;max-height:520px;overflow-y:auto}
svg{width:100%;height:auto;display:block}
svg text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:#111}
svg .axis{stroke:#333;stroke-width:1}
svg .grid{stroke:#ccc;stroke-width:1}
.f1{fill:#1d2f57}.f2{fill:url(#p-hatch)}.f3{fill:#d4dbe8}.f4{fill:url(#p-cross)}.f5{fill:url(#p-dots)}
rect.bar,rect.seg{stroke:#111;stroke-width:.6}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 0;padding:0;list-style:none}
.legend svg{width:14px;height:14px;display:inline-block;vertical-align:-2px;margin-right:4px}
.note{color:#444;font-size:13px}
</style></head>
<body>
<svg width="0" height="0" style="position:absolute" aria-hidden="true">` + fillDefs + `</svg>
<h1>Webex Calling fleet</h1>
<p class="meta">Generated {{.Generated.Format "2006-01-02 15:04:05Z"}} by wxc-sync from its inventory. Times are UTC.</p>
<div class="cards">
<div class="card">devices tracked<b>{{thousands .Summary.Devices}}</b></div>
<div class="card">offline<b>{{thousands .Summary.Offline}}</b></div>
<div class="card">failing to sync<b>{{thousands .Summary.Failing}}</b></div>
<div class="card">gone (404)<b>{{thousands .Summary.Gone}}</b></div>
<div class="card">never synced<b>{{thousands .Summary.NeverSynced}}</b></div>
<div class="card">inventory last synced<b>{{if .Summary.LastSynced}}{{.Summary.LastSynced}}{{else}}never{{end}}</b></div>
<div class="card">last successful run ended<b>{{if .Summary.LastSuccess}}{{.Summary.LastSuccess}}{{else}}never{{end}}</b></div>
</div>

<h2>Devices by connection status</h2>
{{template "bars" .Status}}
<h2>Devices by model</h2>
{{template "bars" .Models}}
<h2>Devices by software version</h2>
{{template "bars" .Software}}

<h2>Changes per day, last {{.Days}} days</h2>
{{with .Changes}}
<div class="pair"><div class="chart">
<svg class="chart" id="chart-changes" viewBox="0 0 640 260" role="img" aria-label="History changes per day, stacked by field">
{{range .Ticks}}<line class="grid" x1="{{f $.Changes.Left}}" x2="{{f (add $.Changes.Left $.Changes.PlotW)}}" y1="{{f .At}}" y2="{{f .At}}"/><text x="{{f (add $.Changes.Left -6)}}" y="{{f (add .At 4)}}" text-anchor="end">{{.Label}}</text>
{{end}}
{{range $d := .Days}}<g><title>{{.Date}}: {{thousands .Total}} changes{{range .Segments}}, {{.Field}} {{thousands .Value}}{{end}}</title>{{range .Segments}}{{if .Value}}<rect class="seg {{.Class}}" x="{{f $d.X}}" width="{{f $d.W}}" y="{{f .Y}}" height="{{f .H}}"/>{{end}}{{end}}</g>
{{if .Label}}<text x="{{f .LabelX}}" y="{{f (add $.Changes.Top (add $.Changes.PlotH 16))}}" text-anchor="middle">{{.Label}}</text>{{end}}
{{end}}
<line class="axis" x1="{{f .Left}}" x2="{{f .Left}}" y1="{{f .Top}}" y2="{{f (add .Top .PlotH)}}"/>
<line class="axis" x1="{{f .Left}}" x2="{{f (add .Left .PlotW)}}" y1="{{f (add .Top .PlotH)}}" y2="{{f (add .Top .PlotH)}}"/>
<text x="{{f (add .Left (half .PlotW))}}" y="254" text-anchor="middle">{{.XLabel}}</text>
<text transform="rotate(-90)" x="{{f (neg (add .Top (half .PlotH)))}}" y="14" text-anchor="middle">changes per day</text>
</svg>
{{template "legend" .Legend}}
<p class="note">{{thousands .Changes}} changes of activation state, IP or MAC in these days (a value replaced by another, or gone). The table's from_absent counts values recorded where there was none ({{thousands .Absent}}: first syncs, values that appeared); the chart leaves them out.</p>
</div><div class="numbers">{{template "table" .Table}}</div></div>
{{end}}

<h2>Offline devices</h2>
<p class="note">Devices the listing last showed as not connected, gone devices left out, longest unseen first.</p>
{{template "table" .Offline}}
<h2>Devices failing to sync</h2>
<p class="note">Devices whose last sync failed, the longest failing first (wxc-sync report failing_devices lists them all).</p>
{{template "table" .Failing}}
<h2>Last runs</h2>
<p class="note">seconds: how long the run took; requests: listing pages and device details, retries included; changes: history rows recorded.</p>
{{template "table" .Runs}}
</body></html>

{{define "bars"}}
<div class="pair"><div class="chart">
<svg class="chart" viewBox="0 0 640 {{f .Height}}" role="img" aria-label="{{.Unit}} by {{.What}}">
<g transform="translate(210,0)">
{{range .Ticks}}<line class="grid" x1="{{f .At}}" x2="{{f .At}}" y1="0" y2="{{f (add $.Height -44)}}"/><text x="{{f .At}}" y="{{f (add $.Height -28)}}" text-anchor="middle">{{.Label}}</text>
{{end}}
{{range .Bars}}<g><title>{{.Label}}: {{thousands .Value}}</title>
<text x="-6" y="{{f (add .Y 14)}}" text-anchor="end">{{.Short}}</text>
<rect class="bar {{.Class}}" x="0" y="{{f .Y}}" width="{{f .W}}" height="20"/>
<text x="{{f (add .W 4)}}" y="{{f (add .Y 14)}}">{{thousands .Value}}</text></g>
{{end}}
<line class="axis" x1="0" x2="0" y1="0" y2="{{f (add .Height -44)}}"/>
<line class="axis" x1="0" x2="{{f .PlotW}}" y1="{{f (add .Height -44)}}" y2="{{f (add .Height -44)}}"/>
<text x="{{f (half .PlotW)}}" y="{{f (add .Height -8)}}" text-anchor="middle">{{.Unit}}</text>
</g>
</svg>
{{template "legend" .Legend}}
</div><div class="numbers">{{template "table" .Table}}</div></div>
{{end}}

{{define "legend"}}<ul class="legend">{{range .}}<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="{{.Class}}" width="14" height="14" stroke="#111" stroke-width="1"/></svg>{{.Label}}</li>{{end}}</ul>{{end}}

{{define "table"}}
{{if .Rows}}<table><thead><tr>{{range .Columns}}<th{{if num .}} class="num"{{end}}>{{header .Name}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}{{if .Null}}<td class="null">none</td>{{else}}<td{{if .Numeric}} class="num"{{else if short .Text}} class="s"{{end}}><div class="v">{{.Text}}</div></td>{{end}}{{end}}</tr>
{{end}}</tbody></table>
{{if more .}}<p class="note">The first {{len .Rows}} of {{thousands .Total}}.</p>{{end}}
{{else}}<p class="note">None.</p>{{end}}
{{end}}
`))
