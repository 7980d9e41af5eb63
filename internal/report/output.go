package report

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// Output says how to write a result.
type Output struct {
	Format string // table, csv, json or html
	Limit  int    // rows at most; 0: all
	// Wide shows every value whole in a table. Otherwise a table shortens
	// Webex IDs to the start of the UUID inside them, drops fractions of
	// seconds, and cuts long text so that the table fits Width.
	Wide  bool
	Width int // a table's width in columns; 0: 120
	// Title and Description head an html page (the report's name and
	// description).
	Title, Description string
}

// Kind is how JSON spells a column's values.
type Kind int

const (
	KindText   Kind = iota // a string
	KindNumber             // a number (NaN and infinities stay strings)
	KindBool               // true or false
	KindJSON               // the JSON value itself
	KindTime               // a time or interval, a string; a table drops fractions of seconds
)

// Column is a result column.
type Column struct {
	Name string
	Kind Kind
}

func kindOf(oid uint32) Kind {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID, pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		return KindNumber
	case pgtype.BoolOID:
		return KindBool
	case pgtype.JSONOID, pgtype.JSONBOID:
		return KindJSON
	case pgtype.TimestamptzOID, pgtype.TimestampOID, pgtype.IntervalOID:
		return KindTime
	}
	return KindText
}

// formatter writes a result row by row.
type formatter interface {
	header() error
	row([]*string) error
	end(rows int) error
}

func newFormatter(out Output, w io.Writer, cols []Column) (formatter, error) {
	switch out.Format {
	case "table":
		width := out.Width
		if width <= 0 {
			width = 120
		}
		return &tableFormatter{w: w, cols: cols, wide: out.Wide, width: width, limit: out.Limit}, nil
	case "csv":
		return &csvFormatter{w: csv.NewWriter(w), cols: cols}, nil
	case "json":
		return &jsonFormatter{w: bufio.NewWriter(w), cols: cols}, nil
	case "html":
		return newHTMLFormatter(out, w, cols), nil
	}
	return nil, fmt.Errorf("format %q: want table, csv, json or html", out.Format)
}

// csvFormatter writes values as text, NULL as an empty field.
type csvFormatter struct {
	w    *csv.Writer
	cols []Column
}

func (f *csvFormatter) header() error {
	names := make([]string, len(f.cols))
	for i, c := range f.cols {
		names[i] = c.Name
	}
	return f.w.Write(names)
}

func (f *csvFormatter) row(vals []*string) error {
	rec := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			rec[i] = *v
		}
	}
	return f.w.Write(rec)
}

func (f *csvFormatter) end(int) error {
	f.w.Flush()
	return f.w.Error()
}

// jsonFormatter writes an array of objects, one a line, keys in column
// order, values typed: numbers, booleans, JSON and null as themselves.
type jsonFormatter struct {
	w    *bufio.Writer
	cols []Column
	keys [][]byte
	n    int
}

func (f *jsonFormatter) header() error {
	for _, c := range f.cols {
		k, err := json.Marshal(c.Name)
		if err != nil {
			return err
		}
		f.keys = append(f.keys, k)
	}
	_, err := f.w.WriteString("[")
	return err
}

func (f *jsonFormatter) row(vals []*string) error {
	if f.n > 0 {
		f.w.WriteString(",")
	}
	f.n++
	f.w.WriteString("\n{")
	for i, v := range vals {
		if i > 0 {
			f.w.WriteString(",")
		}
		f.w.Write(f.keys[i])
		f.w.WriteString(":")
		b, err := jsonValue(f.cols[i].Kind, v)
		if err != nil {
			return fmt.Errorf("column %s: %w", f.cols[i].Name, err)
		}
		f.w.Write(b)
	}
	f.w.WriteString("}")
	// Let a reader at the other end of a pipe see rows as they come.
	if f.w.Buffered() > 32<<10 {
		return f.w.Flush()
	}
	return nil
}

func (f *jsonFormatter) end(int) error {
	if f.n > 0 {
		f.w.WriteString("\n")
	}
	f.w.WriteString("]\n")
	return f.w.Flush()
}

// jsonValue spells a PostgreSQL text value as JSON of its kind.
func jsonValue(k Kind, v *string) ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	switch k {
	case KindNumber:
		// PostgreSQL's text form of a finite number is a JSON number;
		// NaN and the infinities have no JSON spelling.
		if json.Valid([]byte(*v)) {
			return []byte(*v), nil
		}
	case KindBool:
		switch *v {
		case "t":
			return []byte("true"), nil
		case "f":
			return []byte("false"), nil
		}
	case KindJSON:
		if json.Valid([]byte(*v)) {
			return []byte(*v), nil
		}
	}
	return json.Marshal(*v)
}

// tableFormatter aligns columns for a person. Rows are held in blocks of
// tableBlock: the first block sets the column widths, later blocks are
// written with the same widths, so a long report streams in bounded memory.
type tableFormatter struct {
	w      io.Writer
	cols   []Column
	wide   bool
	width  int
	limit  int
	widths []int
	block  [][]string
	// isShortID marks the columns whose values in the first block were
	// all Webex IDs, shown shortened.
	isShortID []bool
}

const tableBlock = 1000

func (f *tableFormatter) header() error { return nil }

func (f *tableFormatter) row(vals []*string) error {
	if f.isShortID == nil {
		f.isShortID = make([]bool, len(vals))
		for i, v := range vals {
			_, f.isShortID[i] = shortIDOf(f.cols[i].Kind, v)
		}
	}
	cells := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			cells[i] = f.display(f.cols[i].Kind, *v)
		}
	}
	f.block = append(f.block, cells)
	if len(f.block) == tableBlock {
		return f.flush()
	}
	return nil
}

func (f *tableFormatter) end(rows int) error {
	if err := f.flush(); err != nil {
		return err
	}
	note := fmt.Sprintf("(%s)", plural(rows, "row"))
	if f.limit > 0 && rows == f.limit {
		note = fmt.Sprintf("(%s: the first %d, as --limit asked)", plural(rows, "row"), f.limit)
	}
	_, err := fmt.Fprintln(f.w, note)
	return err
}

var fractionOfSecond = regexp.MustCompile(`(\d\d:\d\d:\d\d)\.\d+`)

// display is a value as the table shows it: escaped for the terminal and,
// unless wide, with Webex IDs cut to their UUID's start and times to the
// second.
func (f *tableFormatter) display(k Kind, v string) string {
	if !f.wide {
		switch k {
		case KindTime:
			v = fractionOfSecond.ReplaceAllString(v, "$1")
		case KindText:
			if short, ok := shortID(v); ok {
				v = short
			}
		}
	}
	return EscapeForTerminal(v)
}

func shortIDOf(k Kind, v *string) (string, bool) {
	if k != KindText || v == nil {
		return "", false
	}
	return shortID(*v)
}

// shortID shortens a Webex ID (base64 of ciscospark://<region>/<TYPE>/<uuid>:
// a device, org, location, person or workspace) to the first 13 characters
// of the UUID inside it ("738D43B0-3FC5…"): enough to tell a fleet's devices
// apart and to find one in --wide or CSV output.
func shortID(v string) (string, bool) {
	if len(v) < 40 || len(v) > 400 {
		return "", false
	}
	var raw []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			raw = b
			break
		}
	}
	rest, ok := strings.CutPrefix(string(raw), "ciscospark://")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	u := parts[len(parts)-1]
	if len(parts) != 3 || !uuidLike.MatchString(u) {
		return "", false
	}
	return u[:13] + "…", true
}

var uuidLike = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// flush writes the held rows, fixing the column widths on the first call.
func (f *tableFormatter) flush() error {
	if f.widths == nil {
		f.widths = make([]int, len(f.cols))
		for i, c := range f.cols {
			f.widths[i] = utf8.RuneCountInString(c.Name)
		}
		for _, r := range f.block {
			for i, c := range r {
				f.widths[i] = max(f.widths[i], utf8.RuneCountInString(c))
			}
		}
		if !f.wide {
			f.fit()
		}
		names := make([]string, len(f.cols))
		seps := make([]string, len(f.cols))
		for i, c := range f.cols {
			names[i] = c.Name
			seps[i] = strings.Repeat("-", f.widths[i])
		}
		if err := f.line(names, false); err != nil {
			return err
		}
		if err := f.line(seps, false); err != nil {
			return err
		}
	}
	for _, r := range f.block {
		if err := f.line(r, true); err != nil {
			return err
		}
	}
	f.block = f.block[:0]
	return nil
}

// fit narrows the widest text columns, never below their header or 12
// characters, until the table fits f.width. Numbers, times and shortened
// IDs keep their width: a cut one would read as another value.
func (f *tableFormatter) fit() {
	total := 2 * (len(f.widths) - 1)
	for _, w := range f.widths {
		total += w
	}
	for total > f.width {
		widest := -1
		for i, w := range f.widths {
			floor := max(12, utf8.RuneCountInString(f.cols[i].Name))
			if f.cols[i].Kind != KindText || f.isShortID[i] {
				floor = w
			}
			if w > floor && (widest < 0 || w > f.widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return // as narrow as it goes
		}
		f.widths[widest]--
		total--
	}
}

// line writes cells padded to the widths (numbers to the right), cutting a
// longer one with "…"; the last column is not padded.
func (f *tableFormatter) line(cells []string, data bool) error {
	var b strings.Builder
	for i, c := range cells {
		w := f.widths[i]
		if n := utf8.RuneCountInString(c); n > w && !f.wide {
			c = string([]rune(c)[:w-1]) + "…"
		}
		pad := max(0, w-utf8.RuneCountInString(c))
		if i > 0 {
			b.WriteString("  ")
		}
		switch {
		case data && f.cols[i].Kind == KindNumber:
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(c)
		case i == len(cells)-1:
			b.WriteString(c)
		default:
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", pad))
		}
	}
	_, err := io.WriteString(f.w, strings.TrimRight(b.String(), " ")+"\n")
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
