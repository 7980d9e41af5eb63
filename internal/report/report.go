// Package report runs the reporting SQL in queries/reports from Go, the same
// files users run with psql -f. It owns reading a report's description and
// parameters from its header, turning psql variables into bind parameters,
// and formatting the result as a table, CSV or JSON.
package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/queries"
)

// Param is a report parameter: a psql variable of the file.
type Param struct {
	Name     string
	Default  string
	Required bool // no default: the caller must give it
}

// Report is one reporting SQL file.
type Report struct {
	Name        string // file name without .sql
	Description string // the header's first paragraph of comments
	Params      []Param
	sql         string // with psql variables replaced by $n
	order       []string
}

var (
	setDefault = regexp.MustCompile(`\\set\s+(\w+)\s+(\S+)`)
	variable   = regexp.MustCompile(`:'(\w+)'`)
)

// Parse reads a report from its SQL text. psql meta-commands (lines
// starting with a backslash) are dropped; a "\set name value" among them
// is the parameter's default.
func Parse(name, text string) (Report, error) {
	r := Report{Name: name}
	defaults := map[string]string{}
	var body strings.Builder
	inHeader := true
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, `\`):
			for _, m := range setDefault.FindAllStringSubmatch(trimmed, -1) {
				defaults[m[1]] = strings.Trim(m[2], `'`)
			}
			continue
		case strings.HasPrefix(trimmed, "--") && inHeader:
			// The description is the header's first paragraph: the comment
			// lines before "Parameters:", "Run:" or a blank comment.
			text := strings.TrimSpace(strings.TrimPrefix(trimmed, "--"))
			if text == "" || strings.HasPrefix(text, "Parameters:") || strings.HasPrefix(text, "Run:") {
				inHeader = false
			} else {
				r.Description = strings.TrimSpace(r.Description + " " + text)
			}
		default:
			inHeader = false
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	index := map[string]int{}
	sql := variable.ReplaceAllStringFunc(body.String(), func(m string) string {
		v := variable.FindStringSubmatch(m)[1]
		if _, ok := index[v]; !ok {
			r.order = append(r.order, v)
			index[v] = len(r.order)
		}
		return fmt.Sprintf("$%d", index[v])
	})
	if strings.Contains(sql, ":{?") || regexp.MustCompile(`(^|[^:]):[a-z_]+\b`).MatchString(stripComments(sql)) {
		return Report{}, fmt.Errorf("report %s: psql variables must be written :'name'", name)
	}
	r.sql = strings.TrimSpace(sql)
	for _, v := range r.order {
		d, ok := defaults[v]
		r.Params = append(r.Params, Param{Name: v, Default: d, Required: !ok})
	}
	return r, nil
}

// stripComments drops -- comments and the text of string literals, so that
// a check for stray psql variables looks at SQL only.
func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(regexp.MustCompile(`'[^']*'`).ReplaceAllString(line, "''"))
		b.WriteByte('\n')
	}
	// Casts (::int) are SQL, not variables.
	return strings.ReplaceAll(b.String(), "::", "  ")
}

// All lists the shipped reports, sorted by name.
func All() ([]Report, error) {
	fsys := queries.Reports()
	paths, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Report
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		r, err := Parse(strings.TrimSuffix(p, ".sql"), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Report) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Find returns the shipped report called name.
func Find(name string) (Report, error) {
	all, err := All()
	if err != nil {
		return Report{}, err
	}
	var names []string
	for _, r := range all {
		if r.Name == name {
			return r, nil
		}
		names = append(names, r.Name)
	}
	return Report{}, fmt.Errorf("no report named %q; reports: %s", name, strings.Join(names, ", "))
}

// Result is a report's output, every value in PostgreSQL's text form (as
// psql prints it); nil is NULL.
type Result struct {
	Columns []string
	Rows    [][]*string
}

// Run executes the report with params (name to value; missing ones take
// their defaults). Unknown or missing required parameters are errors.
func (r Report) Run(ctx context.Context, pool *pgxpool.Pool, params map[string]string) (Result, error) {
	known := map[string]bool{}
	for _, p := range r.Params {
		known[p.Name] = true
	}
	for k := range params {
		if !known[k] {
			return Result{}, fmt.Errorf("report %s has no parameter %q", r.Name, k)
		}
	}
	args := []any{pgx.QueryResultFormats{pgx.TextFormatCode}}
	for _, p := range r.Params {
		v, ok := params[p.Name]
		if !ok {
			if p.Required {
				return Result{}, fmt.Errorf("report %s needs the parameter %s (--param %s=...)", r.Name, p.Name, p.Name)
			}
			v = p.Default
		}
		args = append(args, v)
	}
	rows, err := pool.Query(ctx, r.sql, args...)
	if err != nil {
		return Result{}, fmt.Errorf("report %s: %w", r.Name, err)
	}
	defer rows.Close()
	var res Result
	for _, fd := range rows.FieldDescriptions() {
		res.Columns = append(res.Columns, fd.Name)
	}
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, v := range raw {
			if v != nil {
				s := string(v)
				row[i] = &s
			}
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("report %s: %w", r.Name, err)
	}
	return res, nil
}

// EscapeForTerminal makes data from Webex or the database safe to print as
// a table cell on a terminal: control characters (ESC, BEL, CR, tab,
// newline, C1), bidirectional overrides, line and paragraph separators and
// invalid UTF-8 are shown as Go escapes (\x1b, \a, \r, \u202e, \xff), so
// that a device's name cannot move the cursor, retitle the window, hide
// text or break the table's columns. CSV and JSON keep the data as it is.
func EscapeForTerminal(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
		unicode.In(r, unicode.Zl, unicode.Zp)
}

// Write formats res as "table", "csv" or "json".
func (res Result) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
		seps := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			seps[i] = strings.Repeat("-", len(c))
		}
		fmt.Fprintln(tw, strings.Join(seps, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				if v != nil {
					cells[i] = EscapeForTerminal(*v)
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		fmt.Fprintf(tw, "(%d rows)\n", len(res.Rows))
		return tw.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(res.Columns); err != nil {
			return err
		}
		for _, row := range res.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				if v != nil {
					rec[i] = *v
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]*string, 0, len(res.Rows))
		for _, row := range res.Rows {
			m := make(map[string]*string, len(row))
			for i, v := range row {
				m[res.Columns[i]] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	default:
		return fmt.Errorf("format %q: want table, csv or json", format)
	}
}
