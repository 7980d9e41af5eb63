package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// tableFormatter aligns columns for a person. Rows are held in blocks of
// tableBlock: the first block sets the column widths, later blocks are
// written with the same widths, so a long report streams in bounded memory.
//
// A table keeps whole what answers the question: a text that does not fit
// its column wraps onto the next lines of its row, never cut; when that
// would leave the long text too narrow to read, the columns the report
// names as less useful are left out first (and the last line says so).
type tableFormatter struct {
	w         io.Writer
	cols      []Column
	wide      bool
	width     int
	limit     int
	dropFirst []string
	widths    []int
	shown     []int    // the columns written, by index
	dropped   []string // the columns left out to fit
	block     [][]string
	// isShortID marks the columns whose values in the first block were
	// all Webex IDs, shown shortened.
	isShortID []bool
}

const tableBlock = 1000

// Narrowing a text column wraps it. Down to comfortableWidth characters
// (or its header, or its longest word up to longWord: a tracking ID) it
// still reads well; only when leaving out the columns the report names
// cannot make the table fit does text narrow further, to tightWidth, first
// keeping whole the words of up to comfortableWidth characters (an IP, a
// MAC).
const (
	comfortableWidth = 30
	longWord         = 60
	tightWidth       = 12
)

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
	note := plural(rows, "row")
	if f.limit > 0 && rows == f.limit {
		note = fmt.Sprintf("%s: the first %d, as --limit asked", plural(rows, "row"), f.limit)
	}
	if len(f.dropped) > 0 {
		note += fmt.Sprintf("; %s left out to fit %d columns: --wide shows every column", strings.Join(f.dropped, ", "), f.width)
	}
	_, err := fmt.Fprintf(f.w, "(%s)\n", note)
	return err
}

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

// flush writes the held rows, fixing the columns and their widths on the
// first call.
func (f *tableFormatter) flush() error {
	if f.widths == nil {
		natural := make([]int, len(f.cols))
		word := make([]int, len(f.cols)) // the longest word of each column
		for i, c := range f.cols {
			natural[i] = utf8.RuneCountInString(c.Name)
		}
		for _, r := range f.block {
			for i, c := range r {
				natural[i] = max(natural[i], utf8.RuneCountInString(c))
				for _, w := range strings.Fields(c) {
					word[i] = max(word[i], utf8.RuneCountInString(w))
				}
			}
		}
		f.shown = make([]int, len(f.cols))
		for i := range f.shown {
			f.shown[i] = i
		}
		f.widths = natural
		if !f.wide {
			f.layout(natural, word)
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

// layout chooses the columns and their widths for f.width: every column
// whole if they fit; else long text wrapped, down to a comfortable width;
// else, in the order the report gives, its less useful columns left out;
// else text narrowed further, its words kept whole, and at last broken.
// Numbers, times and shortened IDs keep their width: wrapped, one would
// read as two values.
func (f *tableFormatter) layout(natural, word []int) {
	header := func(i int) int { return utf8.RuneCountInString(f.cols[i].Name) }
	wraps := func(i int) bool { return f.cols[i].Kind == KindText && !f.isShortID[i] }
	comfortable := func(i int) int {
		return max(min(natural[i], max(comfortableWidth, min(word[i], longWord))), header(i))
	}
	tight := func(i int) int {
		return max(min(natural[i], max(tightWidth, min(word[i], comfortableWidth))), header(i))
	}
	// fit narrows the widest wrapping column, never below floor, until the
	// shown columns fit.
	fit := func(floor func(int) int) ([]int, bool) {
		w := slices.Clone(natural)
		total := 2 * (len(f.shown) - 1)
		for _, i := range f.shown {
			total += w[i]
		}
		for total > f.width {
			widest := -1
			for _, i := range f.shown {
				if wraps(i) && w[i] > floor(i) && (widest < 0 || w[i] > w[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				return w, false
			}
			w[widest]--
			total--
		}
		return w, true
	}
	w, ok := fit(comfortable)
	for _, name := range f.dropFirst {
		if ok {
			break
		}
		i := slices.IndexFunc(f.cols, func(c Column) bool { return c.Name == name })
		if j := slices.Index(f.shown, i); i >= 0 && j >= 0 && len(f.shown) > 1 {
			f.shown = slices.Delete(f.shown, j, j+1)
			f.dropped = append(f.dropped, name)
			w, ok = fit(comfortable)
		}
	}
	if !ok {
		w, ok = fit(tight)
	}
	if !ok {
		// As narrow as it goes: long words break too.
		w, _ = fit(func(i int) int { return max(min(natural[i], tightWidth), header(i)) })
	}
	f.widths = w
}

// line writes a row of cells (the shown ones) padded to the widths,
// numbers to the right; a longer text wraps onto the row's next lines, at
// a space where it can. The last column is not padded.
func (f *tableFormatter) line(cells []string, data bool) error {
	wrapped := make([][]string, len(f.shown))
	height := 1
	for k, i := range f.shown {
		wrapped[k] = []string{cells[i]}
		if !f.wide {
			wrapped[k] = wrap(cells[i], f.widths[i])
		}
		height = max(height, len(wrapped[k]))
	}
	var b strings.Builder
	for l := range height {
		var ln strings.Builder
		for k, i := range f.shown {
			c := ""
			if l < len(wrapped[k]) {
				c = wrapped[k][l]
			}
			pad := max(0, f.widths[i]-utf8.RuneCountInString(c))
			if k > 0 {
				ln.WriteString("  ")
			}
			switch {
			case data && f.cols[i].Kind == KindNumber:
				ln.WriteString(strings.Repeat(" ", pad))
				ln.WriteString(c)
			case k == len(f.shown)-1:
				ln.WriteString(c)
			default:
				ln.WriteString(c)
				ln.WriteString(strings.Repeat(" ", pad))
			}
		}
		b.WriteString(strings.TrimRight(ln.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(f.w, b.String())
	return err
}

// wrap splits s into lines of at most width characters, breaking at the
// last space of a line, and within a word only when it is longer than a
// line.
func wrap(s string, width int) []string {
	r := []rune(s)
	if len(r) <= width || width < 1 {
		return []string{s}
	}
	var lines []string
	for len(r) > width {
		cut, next := width, width
		for i := width; i > 0; i-- {
			if r[i] == ' ' {
				cut, next = i, i+1
				break
			}
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		r = []rune(strings.TrimLeft(string(r[next:]), " "))
	}
	if len(r) > 0 {
		lines = append(lines, string(r))
	}
	return lines
}
