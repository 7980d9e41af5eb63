// Package deviceimport reads a file of device IDs for "devices import": one
// ID per line, or CSV with a header naming device_id or mac (and optionally
// org_id). It validates every line before anything is stored, and says of
// each rejected line its number and why. It knows nothing of SQL.
package deviceimport

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// maxLine bounds a line: far above any valid one (deviceid.MaxLen plus an
// org ID), low enough that a binary file fed by mistake is refused quickly.
const maxLine = 64 << 10

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
	Format   string // "lines" or "csv"
	Entries  []Entry
	Rejected []Rejection
}

// Parse reads the whole of r. Blank lines and # comments (whole lines, or
// the rest of a line: a Webex ID never holds '#') are ignored; surrounding
// whitespace is trimmed, whitespace inside an ID is an error. The format is
// CSV when the first line that is not blank or a comment names a device_id
// or a mac column; a CSV line without a device_id gives its mac (any
// spelling), which the caller looks up. An ID (or MAC) that appears twice (in any base64 spelling) is a duplicate;
// its second line is rejected. Errors are for the reader only; bad lines are
// Rejections.
func Parse(r io.Reader) (Result, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		res     = Result{Format: "lines"}
		header  map[string]int
		columns int
		seen    = map[deviceid.Key]int{} // key -> line
		seenMAC = map[string]int{}       // MAC -> line
		n       int
	)
	reject := func(reason string, args ...any) {
		res.Rejected = append(res.Rejected, Rejection{Line: n, Reason: fmt.Sprintf(reason, args...)})
	}
	first := true
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\uFEFF"))
		// A comment is a whole line in a CSV (a field may hold a '#': "desk
		// #2"), and may also end a line of a plain list (IDs have no '#').
		if i := strings.IndexByte(line, '#'); i == 0 || (i > 0 && header == nil) {
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
				header, columns, res.Format = h, cols, "csv"
				continue
			}
		}
		rawID, rawOrg, rawMAC := line, "", ""
		if header != nil {
			fields, err := csv.NewReader(strings.NewReader(line)).Read()
			if err != nil {
				reject("not a CSV record: %v", err)
				continue
			}
			if len(fields) > columns {
				reject("%d fields, the header has %d", len(fields), columns)
				continue
			}
			// Trailing optional columns may be left off ("ID" under
			// "device_id,org_id").
			for len(fields) < columns {
				fields = append(fields, "")
			}
			rawID = ""
			if i, ok := header["device_id"]; ok {
				rawID = strings.TrimSpace(fields[i])
			}
			if i, ok := header["mac"]; ok {
				rawMAC = strings.TrimSpace(fields[i])
			}
			if i, ok := header["org_id"]; ok {
				rawOrg = strings.TrimSpace(fields[i])
			}
		}
		if rawID == "" && rawMAC != "" {
			hw, ok := device.ParseMAC(rawMAC)
			if !ok {
				reject("mac %q is not a MAC address (12 hex digits, with or without ':', '-' or '.')", truncate(rawMAC, 40))
				continue
			}
			if rawOrg != "" {
				if _, err := deviceid.ParseOrg(rawOrg); err != nil {
					reject("org_id: %v", err)
					continue
				}
			}
			if prev, dup := seenMAC[hw.String()]; dup {
				reject("duplicate of line %d", prev)
				continue
			}
			seenMAC[hw.String()] = n
			res.Entries = append(res.Entries, Entry{Line: n, MAC: hw, OrgID: rawOrg})
			continue
		}
		id, err := deviceid.Parse(rawID)
		if err != nil {
			if _, isMAC := device.ParseMAC(rawID); isMAC && header == nil {
				err = fmt.Errorf("a MAC address, not a device ID: import MACs as CSV with a mac column")
			} else if rawID == "" {
				err = fmt.Errorf("neither a device_id nor a mac")
			}
			reject("%v", err)
			continue
		}
		if rawOrg != "" {
			if _, err := deviceid.ParseOrg(rawOrg); err != nil {
				reject("org_id: %v", err)
				continue
			}
		}
		if prev, dup := seen[id.Key()]; dup {
			reject("duplicate of line %d", prev)
			continue
		}
		seen[id.Key()] = n
		res.Entries = append(res.Entries, Entry{Line: n, ID: id.Raw, OrgID: rawOrg})
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return Result{}, fmt.Errorf("line %d is longer than %d bytes: is this a list of device IDs?", n+1, maxLine)
		}
		return Result{}, fmt.Errorf("read line %d: %w", n+1, err)
	}
	return res, nil
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
