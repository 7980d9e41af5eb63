// Package report runs the reporting SQL in queries/reports from Go, the same
// files users run with psql -f. It owns reading a report's description and
// parameters from its header, turning psql variables into bind parameters,
// and formatting the result as a table, CSV or JSON.
package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/queries"
)

// Param is a report parameter: a psql variable of the file.
type Param struct {
	Name     string
	Default  string
	Required bool // no default: the caller must give it
	// OneOf, when the header says "-- NAME is one of: a, b, c", is every
	// value the parameter takes besides its default: another would match
	// nothing and look like an empty answer.
	OneOf []string
}

// Report is one reporting SQL file.
type Report struct {
	Name        string // file name without .sql
	Description string // the header's first paragraph of comments
	Params      []Param
	// DropFirst is what the header's "-- In a narrow table, left out
	// first: a, b" names: the columns a table leaves out, in this order,
	// when the rest would not fit.
	DropFirst []string
	sql       string // with psql variables replaced by $n
	order     []string
}

var (
	// A default is one word or a quoted string, as psql reads it
	// (\set max_age '24 hours'; '' is a quote inside one).
	setDefault = regexp.MustCompile(`\\set\s+(\w+)\s+('(?:[^']|'')*'|[^\s']\S*)`)
	variable   = regexp.MustCompile(`:'(\w+)'`)
	oneOf      = regexp.MustCompile(`^--\s*(\w+) is one of:\s*(.+?)\.?$`)
	dropFirst  = regexp.MustCompile(`^--\s*In a narrow table, left out first:\s*(.+?)\.?$`)
)

// Parse reads a report from its SQL text. psql meta-commands (lines
// starting with a backslash) are dropped; a "\set name value" among them
// is the parameter's default.
func Parse(name, text string) (Report, error) {
	r := Report{Name: name}
	defaults := map[string]string{}
	values := map[string][]string{}
	var body strings.Builder
	inHeader := true
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, `\`):
			for _, m := range setDefault.FindAllStringSubmatch(trimmed, -1) {
				defaults[m[1]] = psqlValue(m[2])
			}
			continue
		case dropFirst.MatchString(trimmed):
			for _, c := range strings.Split(dropFirst.FindStringSubmatch(trimmed)[1], ",") {
				r.DropFirst = append(r.DropFirst, strings.TrimSpace(c))
			}
			inHeader = false
		case oneOf.MatchString(trimmed):
			m := oneOf.FindStringSubmatch(trimmed)
			for _, v := range strings.Split(m[2], ",") {
				values[m[1]] = append(values[m[1]], strings.TrimSpace(v))
			}
			inHeader = false
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
		r.Params = append(r.Params, Param{Name: v, Default: d, Required: !ok, OneOf: values[v]})
		delete(values, v)
	}
	for v := range values {
		return Report{}, fmt.Errorf("report %s: %q is one of some values, but no parameter", name, v)
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

// Querier runs a report's statement: a pool, or the read-only
// transaction store.ReadOnly gives.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Result is a report's output, every value in PostgreSQL's text form (as
// psql prints it); nil is NULL. Kinds, when set, says how JSON spells each
// column's values; without it every value is a JSON string.
type Result struct {
	Columns []string
	Kinds   []Kind
	Rows    [][]*string
	// DropFirst: the columns a narrow table leaves out first (the
	// report's), unless the Output names others.
	DropFirst []string
}

// ParamError is a parameter value PostgreSQL refused (days=abc for an
// integer): the caller's mistake, not the database's.
type ParamError struct {
	Name, Value string
	Reason      string // PostgreSQL's message, without the value
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("--param %s=%s: %s", e.Name, e.Value, e.Reason)
}

// Run executes the report with params (name to value; missing ones take
// their defaults) and returns the whole result. Unknown or missing required
// parameters are errors. Stream writes a large result without holding it.
func (r Report) Run(ctx context.Context, db Querier, params map[string]string) (Result, error) {
	res := Result{DropFirst: r.DropFirst}
	err := r.query(ctx, db, params, 0, func(cols []Column) error {
		for _, c := range cols {
			res.Columns = append(res.Columns, c.Name)
			res.Kinds = append(res.Kinds, c.Kind)
		}
		return nil
	}, func(row []*string) error {
		res.Rows = append(res.Rows, row)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// Stream executes the report and writes its rows to w as they arrive, in
// the shape out asks for. It returns the rows written.
func (r Report) Stream(ctx context.Context, db Querier, params map[string]string, out Output, w io.Writer) (int, error) {
	var f formatter
	n := 0
	if out.DropFirst == nil {
		out.DropFirst = r.DropFirst
	}
	err := r.query(ctx, db, params, out.Limit, func(cols []Column) error {
		var err error
		f, err = newFormatter(out, w, cols)
		if err != nil {
			return err
		}
		return f.header()
	}, func(row []*string) error {
		n++
		return f.row(row)
	})
	if err != nil {
		return n, err
	}
	return n, f.end(n)
}

// query runs the report, calling header with its columns, then row for each
// row (the slice is the caller's to keep). limit > 0 keeps the first limit
// rows, in the database: the rest is never sent.
func (r Report) query(ctx context.Context, db Querier, params map[string]string, limit int,
	header func([]Column) error, row func([]*string) error) error {
	if errs := r.Check(params); len(errs) > 0 {
		return errs[0]
	}
	args := []any{pgx.QueryResultFormats{pgx.TextFormatCode}}
	given := map[string]string{}
	for _, p := range r.Params {
		v, ok := params[p.Name]
		if !ok {
			v = p.Default
		} else {
			given[p.Name] = v
		}
		args = append(args, v)
	}
	sql := r.sql
	if limit > 0 {
		sql = fmt.Sprintf("SELECT * FROM (\n%s\n) AS report LIMIT %d", strings.TrimSuffix(strings.TrimSpace(sql), ";"), limit)
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return r.queryErr(err, given)
	}
	defer rows.Close()
	var cols []Column
	for _, fd := range rows.FieldDescriptions() {
		cols = append(cols, Column{Name: fd.Name, Kind: kindOf(fd.DataTypeOID)})
	}
	headerDone := false
	for rows.Next() {
		if !headerDone {
			if err := header(cols); err != nil {
				return err
			}
			headerDone = true
		}
		raw := rows.RawValues()
		vals := make([]*string, len(raw))
		for i, v := range raw {
			if v != nil {
				s := string(v)
				vals[i] = &s
			}
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return r.queryErr(err, given)
	}
	if !headerDone {
		return header(cols)
	}
	return nil
}

// Check reports every parameter of params the report cannot take: one it
// does not have, a required one missing, a value not among those it takes
// (OneOf). A *ParamError is a value's fault.
func (r Report) Check(params map[string]string) []error {
	var errs []error
	known := map[string]bool{}
	for _, p := range r.Params {
		known[p.Name] = true
		v, ok := params[p.Name]
		switch {
		case !ok && p.Required:
			errs = append(errs, fmt.Errorf("report %s needs --param %s=...", r.Name, p.Name))
		case ok && len(p.OneOf) > 0 && v != p.Default && !slices.Contains(p.OneOf, v):
			errs = append(errs, &ParamError{Name: p.Name, Value: v, Reason: "want one of " + strings.Join(p.OneOf, ", ")})
		}
	}
	var unknown []string
	for k := range params {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("report %s has no parameter %q (%s)", r.Name, k, r.paramNames()))
	}
	return errs
}

// HasParam reports whether the report takes the parameter name.
func (r Report) HasParam(name string) bool {
	return slices.ContainsFunc(r.Params, func(p Param) bool { return p.Name == name })
}

func (r Report) paramNames() string {
	if len(r.Params) == 0 {
		return "it takes none"
	}
	var ns []string
	for _, p := range r.Params {
		ns = append(ns, p.Name)
	}
	return "it takes " + strings.Join(ns, ", ")
}

// queryErr names the parameter whose value PostgreSQL refused: a data
// exception (SQLSTATE class 22) quoting a value the caller gave.
func (r Report) queryErr(err error, given map[string]string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") {
		for _, p := range r.Params {
			v, ok := given[p.Name]
			if ok && strings.Contains(pe.Message, `"`+v+`"`) {
				reason := strings.TrimSpace(strings.NewReplacer(`: "`+v+`"`, "", `"`+v+`" `, "", `"`+v+`"`, "").Replace(pe.Message))
				return &ParamError{Name: p.Name, Value: v, Reason: reason}
			}
		}
	}
	return fmt.Errorf("report %s: %w", r.Name, err)
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

// Write formats res as "table", "csv" or "json" (see Output).
func (res Result) Write(w io.Writer, format string) error {
	return res.WriteOutput(w, Output{Format: format})
}

// WriteOutput formats res as out says.
func (res Result) WriteOutput(w io.Writer, out Output) error {
	if out.DropFirst == nil {
		out.DropFirst = res.DropFirst
	}
	cols := make([]Column, len(res.Columns))
	for i, name := range res.Columns {
		cols[i] = Column{Name: name}
		if i < len(res.Kinds) {
			cols[i].Kind = res.Kinds[i]
		}
	}
	f, err := newFormatter(out, w, cols)
	if err != nil {
		return err
	}
	if err := f.header(); err != nil {
		return err
	}
	n := 0
	for _, row := range res.Rows {
		if out.Limit > 0 && n == out.Limit {
			break
		}
		if err := f.row(row); err != nil {
			return err
		}
		n++
	}
	return f.end(n)
}

// psqlValue is a \set value as psql reads it: a quoted string unquoted,
// with a doubled single quote standing for one; a bare word as it is.
func psqlValue(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return v
}
