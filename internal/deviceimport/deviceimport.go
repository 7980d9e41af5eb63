// Package deviceimport reads a file of device IDs for "devices import": one
// ID per line, or CSV with a header naming device_id or mac (and optionally
// org_id). It validates every line before anything is stored, and says of
// each rejected line its number and why. It reads the file as a stream, in
// bounded memory whatever its size, and stops when its context ends. It
// knows nothing of SQL.
package deviceimport

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// maxLine bounds a line, or a CSV record (which quotes may spread over
// lines): far above any valid one (deviceid.MaxLen plus an org ID), low
// enough that a binary file fed by mistake is refused quickly.
const maxLine = 64 << 10

// readAhead is the buffer between the file and the parser.
const readAhead = 64 << 10

// MaxEntries bounds the devices one import tracks, and with it the memory
// an import holds (the accepted lines go in one transaction).
const MaxEntries = 1_000_000

// MaxReported is how many rejected lines a Result keeps (those with the
// lowest line numbers); the others are only counted.
const MaxReported = 20

// Entry is an accepted line: a device ID, or a MAC address to look up.
type Entry struct {
	Line  int
	ID    string           // as written, and as it will be stored; empty for a MAC
	MAC   net.HardwareAddr // a CSV line's mac, when it has no device_id
	OrgID string           // empty when the file gives none
}

// Rejection is a rejected line.
type Rejection struct {
	Line   int
	Reason string
}

func (r Rejection) String() string { return fmt.Sprintf("line %d: %s", r.Line, r.Reason) }

// Result is a parsed file.
type Result struct {
	Format  string // "lines" or "csv"
	Entries []Entry
	// Rejected holds the first MaxReported rejected lines, by line number;
	// MoreRejected counts the others.
	Rejected     []Rejection
	MoreRejected int
}

// RejectedCount is the number of rejected lines.
func (r *Result) RejectedCount() int { return len(r.Rejected) + r.MoreRejected }

// Reject records a rejected line, keeping the MaxReported with the lowest
// line numbers (a caller may reject lines out of order).
func (r *Result) Reject(rej Rejection) {
	byLine := func(i, j int) bool { return r.Rejected[i].Line < r.Rejected[j].Line }
	if len(r.Rejected) < MaxReported {
		r.Rejected = append(r.Rejected, rej)
		sort.SliceStable(r.Rejected, byLine)
		return
	}
	r.MoreRejected++
	if last := len(r.Rejected) - 1; rej.Line < r.Rejected[last].Line {
		r.Rejected[last] = rej
		sort.SliceStable(r.Rejected, byLine)
	}
}

// errTooLong is a line or record over maxLine.
var errTooLong = errors.New("too long")

// Parse reads r to its end. Blank lines and # comments (whole lines, or
// the rest of a line of a plain list: a Webex ID never holds '#') are
// ignored; surrounding whitespace is trimmed, whitespace inside an ID is an
// error. The format is CSV when the first line that is not blank or a
// comment names a device_id or a mac column; the rest is then read as one
// CSV stream, so that a quoted field may span lines. A CSV line without a
// device_id gives its mac (any spelling), which the caller looks up. An ID
// (or MAC) that appears twice (in any base64 spelling) is a duplicate; its
// second line is rejected. Errors are for the reader, the size bounds and
// the context; bad lines are Rejections.
func Parse(ctx context.Context, r io.Reader) (Result, error) {
	p := &parser{res: Result{Format: "lines"}, seen: map[deviceid.Key]int{}, seenMAC: map[string]int{}}
	cr := &countingReader{ctx: ctx, r: r}
	br := bufio.NewReaderSize(cr, readAhead)
	first := true
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return p.res, nil
		}
		if err != nil {
			return Result{}, lineErr(n, err)
		}
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSpace(line)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if first {
			first = false
			if h, cols, ok := parseHeader(line); ok {
				_, hasID := h["device_id"]
				_, hasMAC := h["mac"]
				if !hasID && !hasMAC {
					return Result{}, fmt.Errorf("line %d: the CSV header has no device_id or mac column", n)
				}
				p.header, p.columns, p.res.Format = h, cols, "csv"
				if err := p.csv(br, cr, n); err != nil {
					return Result{}, err
				}
				return p.res, nil
			}
		}
		if err := p.accept(n, line, "", ""); err != nil {
			return Result{}, err
		}
	}
}

func lineErr(n int, err error) error {
	if errors.Is(err, errTooLong) {
		return fmt.Errorf("line %d is longer than %d bytes: is this a list of device IDs?", n, maxLine)
	}
	return fmt.Errorf("read line %d: %w", n, err)
}

// readLine reads one line without its end (\n or \r\n), at most maxLine
// bytes, or io.EOF at the end.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b)+len(chunk) > maxLine+2 {
			return "", errTooLong
		}
		b = append(b, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(b) == 0:
			return "", io.EOF
		case err != nil && err != io.EOF:
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// countingReader counts what is read from the file, refuses to read on
// once a CSV record has grown past the bound (a quote never closed would
// otherwise make the whole file one record), and stops when ctx ends.
type countingReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64        // bytes read
	from func() int64 // where the record being read starts; nil: no record
}

func (c *countingReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	if c.from != nil && c.n-c.from() > maxLine+readAhead {
		return 0, errTooLong
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

type parser struct {
	res     Result
	header  map[string]int
	columns int
	seen    map[deviceid.Key]int // key -> line
	seenMAC map[string]int       // MAC -> line
}

func (p *parser) reject(n int, reason string, args ...any) {
	p.res.Reject(Rejection{Line: n, Reason: fmt.Sprintf(reason, args...)})
}

// csv reads the records after the header, which is line headerLine, as
// one CSV stream.
func (p *parser) csv(br *bufio.Reader, cr *countingReader, headerLine int) error {
	start := cr.n - int64(br.Buffered()) // the stream offset the CSV reader starts at
	rd := csv.NewReader(br)              // br is already buffered: csv reads it directly
	rd.FieldsPerRecord = -1
	rd.Comment = '#'
	var recordStart int64
	cr.from = func() int64 { return recordStart }
	defer func() { cr.from = nil }()
	lastLine := headerLine
	for {
		recordStart = start + rd.InputOffset()
		fields, err := rd.Read()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errTooLong) {
			return fmt.Errorf("the CSV record after line %d is longer than %d bytes (a quote never closed?)", lastLine, maxLine)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			lastLine = headerLine + pe.Line
			p.reject(headerLine+pe.StartLine, "not a CSV record: %v", pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("read after line %d: %w", lastLine, err)
		}
		line, _ := rd.FieldPos(0)
		n := headerLine + line
		lastLine = n
		if len(fields) == 1 {
			if f := strings.TrimSpace(fields[0]); f == "" || strings.HasPrefix(f, "#") {
				continue // a blank or comment line, indented
			}
		}
		if len(fields) > p.columns {
			p.reject(n, "%d fields, the header has %d", len(fields), p.columns)
			continue
		}
		// Trailing optional columns may be left off ("ID" under
		// "device_id,org_id").
		for len(fields) < p.columns {
			fields = append(fields, "")
		}
		var rawID, rawOrg, rawMAC string
		if i, ok := p.header["device_id"]; ok {
			rawID = strings.TrimSpace(fields[i])
		}
		if i, ok := p.header["mac"]; ok {
			rawMAC = strings.TrimSpace(fields[i])
		}
		if i, ok := p.header["org_id"]; ok {
			rawOrg = strings.TrimSpace(fields[i])
		}
		if err := p.accept(n, rawID, rawOrg, rawMAC); err != nil {
			return err
		}
	}
}

// accept validates line n's values and records the entry or the
// rejection. Its error ends the import: more entries than MaxEntries.
func (p *parser) accept(n int, rawID, rawOrg, rawMAC string) error {
	if len(p.res.Entries) >= MaxEntries {
		return fmt.Errorf("line %d: more than %d devices in one import; split the file", n, MaxEntries)
	}
	if rawID == "" && rawMAC != "" {
		hw, ok := device.ParseMAC(rawMAC)
		if !ok {
			p.reject(n, "mac %q is not a MAC address (12 hex digits, with or without ':', '-' or '.')", truncate(rawMAC, 40))
			return nil
		}
		if rawOrg != "" {
			if _, err := deviceid.ParseOrg(rawOrg); err != nil {
				p.reject(n, "org_id: %v", err)
				return nil
			}
		}
		if prev, dup := p.seenMAC[hw.String()]; dup {
			p.reject(n, "duplicate of line %d", prev)
			return nil
		}
		p.seenMAC[hw.String()] = n
		p.res.Entries = append(p.res.Entries, Entry{Line: n, MAC: hw, OrgID: rawOrg})
		return nil
	}
	id, err := deviceid.Parse(rawID)
	if err != nil {
		if _, isMAC := device.ParseMAC(rawID); isMAC && p.header == nil {
			err = fmt.Errorf("a MAC address, not a device ID: import MACs as CSV with a mac column")
		} else if rawID == "" {
			err = fmt.Errorf("neither a device_id nor a mac")
		}
		p.reject(n, "%v", err)
		return nil
	}
	if rawOrg != "" {
		if _, err := deviceid.ParseOrg(rawOrg); err != nil {
			p.reject(n, "org_id: %v", err)
			return nil
		}
	}
	if prev, dup := p.seen[id.Key()]; dup {
		p.reject(n, "duplicate of line %d", prev)
		return nil
	}
	p.seen[id.Key()] = n
	p.res.Entries = append(p.res.Entries, Entry{Line: n, ID: id.Raw, OrgID: rawOrg})
	return nil
}

// parseHeader recognises a CSV header: a line of column names one of which
// is device_id or mac (or, with a comma, any names: a CSV without them is an
// error worth saying, not a list of IDs with commas in them).
func parseHeader(line string) (map[string]int, int, bool) {
	if name := strings.Trim(line, `"`); !strings.Contains(line, ",") && !strings.EqualFold(name, "device_id") && !strings.EqualFold(name, "mac") {
		return nil, 0, false
	}
	fields, err := csv.NewReader(strings.NewReader(line)).Read()
	if err != nil {
		return nil, 0, false
	}
	h := map[string]int{}
	for i, f := range fields {
		h[strings.ToLower(strings.TrimSpace(f))] = i
	}
	return h, len(fields), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
