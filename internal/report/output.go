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
	// DropFirst names the columns a table leaves out, in this order, when
	// it does not fit Width with its long text wrapped (a report's header
	// says "-- In a narrow table, left out first: a, b").
	DropFirst []string
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
		return &tableFormatter{w: w, cols: cols, wide: out.Wide, width: width, limit: out.Limit, dropFirst: out.DropFirst}, nil
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

var fractionOfSecond = regexp.MustCompile(`(\d\d:\d\d:\d\d)\.\d+`)

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

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
