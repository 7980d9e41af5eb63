package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// htmlFormatter writes a report as one self-contained HTML page: a table
// with the report's name and description above it, inline CSS, no script,
// nothing fetched. Every value goes through html/template, so that a
// device name or an error Webex sent shows as text, never as markup. Long
// values wrap inside their cell and the table never scrolls sideways.
type htmlFormatter struct {
	w     *bufio.Writer
	out   Output
	cols  []Column
	cells []htmlCell
}

type htmlCell struct {
	Text    string
	Null    bool
	Numeric bool
}

func newHTMLFormatter(out Output, w io.Writer, cols []Column) *htmlFormatter {
	return &htmlFormatter{w: bufio.NewWriter(w), out: out, cols: cols}
}

func (f *htmlFormatter) header() error {
	var names []htmlCell
	for _, c := range f.cols {
		names = append(names, htmlCell{Text: c.Name, Numeric: c.Kind == KindNumber})
	}
	title := f.out.Title
	if title == "" {
		title = "wxc-sync report"
	}
	return htmlPage.ExecuteTemplate(f.w, "head", map[string]any{
		"Title": title, "Description": f.out.Description, "Columns": names,
		"Generated": time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

func (f *htmlFormatter) row(vals []*string) error {
	f.cells = f.cells[:0]
	for i, v := range vals {
		c := htmlCell{Null: v == nil, Numeric: f.cols[i].Kind == KindNumber}
		if v != nil {
			c.Text = *v
			if f.cols[i].Kind == KindTime {
				c.Text = fractionOfSecond.ReplaceAllString(c.Text, "$1")
			}
		}
		f.cells = append(f.cells, c)
	}
	if err := htmlPage.ExecuteTemplate(f.w, "row", f.cells); err != nil {
		return err
	}
	if f.w.Buffered() > 32<<10 {
		return f.w.Flush()
	}
	return nil
}

func (f *htmlFormatter) end(rows int) error {
	note := fmt.Sprintf("%s.", plural(rows, "row"))
	if f.out.Limit > 0 && rows == f.out.Limit {
		note = fmt.Sprintf("%s: the first %d, as --limit asked.", plural(rows, "row"), f.out.Limit)
	}
	if err := htmlPage.ExecuteTemplate(f.w, "tail", note); err != nil {
		return err
	}
	return f.w.Flush()
}

// Short reports whether a table cell's value is short enough to break
// between words only (class "s"): a long value may break anywhere, so that
// no column forces the page to scroll sideways, but "succeeded" broken
// into "succee" and "ded" only because a column could shrink reads badly.
func Short(s string) bool { return utf8.RuneCountInString(s) <= 24 }

// Header is a column's name as a page's table header: escaped, and
// breakable after each underscore (oldest_details_h), so that a narrow
// column keeps its whole name without breaking inside a word.
func Header(name string) template.HTML {
	parts := strings.Split(name, "_")
	for i, p := range parts {
		parts[i] = template.HTMLEscapeString(p)
	}
	return template.HTML(strings.Join(parts, "_<wbr>"))
}

// PageCSS is the style sheet of the pages the job writes: system fonts,
// tables that wrap long values instead of scrolling, and contrast that
// survives grey-scale printing.
const PageCSS = `
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111;background:#fff;margin:0 auto;padding:16px 24px;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:2px solid #222;padding-bottom:2px}
p.meta{color:#444;margin:0 0 12px}
table{border-collapse:collapse;width:100%;table-layout:auto}
th,td{border:1px solid #999;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#e4e4e4;overflow-wrap:normal;word-break:normal}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.s{overflow-wrap:normal;word-break:normal}
td.null{color:#777;font-style:italic}
td div.v{max-height:7.5em;overflow-y:auto;max-width:34em}
tr:nth-child(even) td{background:#f6f6f6}
`

var htmlPage = template.Must(template.New("page").Funcs(template.FuncMap{"short": Short, "header": Header}).Parse(`
{{- define "head" -}}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + PageCSS + `</style></head>
<body>
<h1>{{.Title}}</h1>
{{if .Description}}<p class="meta">{{.Description}}</p>{{end}}
<p class="meta">Generated {{.Generated}} by wxc-sync.</p>
<table><thead><tr>{{range .Columns}}<th{{if .Numeric}} class="num"{{end}}>{{header .Text}}</th>{{end}}</tr></thead>
<tbody>
{{end}}
{{- define "row" -}}
<tr>{{range .}}{{if .Null}}<td class="null">null</td>{{else}}<td{{if .Numeric}} class="num"{{else if short .Text}} class="s"{{end}}><div class="v">{{.Text}}</div></td>{{end}}{{end}}</tr>
{{end}}
{{- define "tail" -}}
</tbody></table>
<p class="meta">{{.}}</p>
</body></html>
{{end}}`))
