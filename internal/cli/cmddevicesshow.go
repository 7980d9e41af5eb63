package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// showSections are the reports "devices show" puts together, in order, each
// run with the device's ID as stored: the same SQL files report and psql -f
// run, so that a column added to one shows here too.
var showSections = []struct{ name, report, title string }{
	{"device", "device_row", "Device"},
	{"timeline", "device_timeline", "Timeline: every change of activation state, IP and MAC, oldest first"},
	{"merges", "device_merges", "IDs merged into this device"},
}

func cmdDevicesShow(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o      dbOptions
		format string
		wide   bool
	)
	fs := newFlagSet("devices show ID|UUID|MAC|SHORT-ID", "Shows one device: its inventory row, its timeline (report device_timeline) and\nthe IDs merged into it (report device_merges). The device is named by any\nidentifier: its ID in any spelling (DEVICE or CALLING_DEVICE, padded or not),\nthe UUID inside it, a MAC in any spelling, or the short ID a table prints\n(\"a579bce2-d8a2…\"). Several devices matching is exit 2, each named; none is\nexit 1. A removed device is found by its ID and shows its history.\n--format json is one object {device, timeline, merges}; csv is the three\ntables one after another, a blank line between.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	fs.StringVar(&format, "format", "table", "output format: table, csv or json")
	fs.BoolVar(&wide, "wide", false, "table: show the timeline's IDs and long text whole")
	ids, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	var errs []error
	if len(ids) != 1 {
		errs = append(errs, fmt.Errorf("devices show: give one device, got %d", len(ids)))
	}
	if err := validFormat(format); err != nil {
		errs = append(errs, err)
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	m, err := findDevice(ctx, st, "devices show", ids[0])
	if err != nil {
		return err
	}
	fmt.Fprint(stderr, noteMatch(m, ids[0]))
	results := make([]report.Result, len(showSections))
	err = st.ReadOnly(ctx, func(db store.Reader) error {
		for i, s := range showSections {
			r, err := report.Find(s.report)
			if err != nil {
				return err
			}
			if results[i], err = r.Run(ctx, db, map[string]string{deviceParam: m.DeviceID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return writeShowJSON(stdout, results)
	case "csv":
		for i, res := range results {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if err := res.Write(stdout, "csv"); err != nil {
				return err
			}
		}
		return nil
	}
	out := tableOutput(format, 0, wide, stdout)
	for i, s := range showSections {
		res := results[i]
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s\n\n", s.title)
		if s.name == "device" {
			if len(res.Rows) == 0 {
				fmt.Fprintf(stdout, "%s is no longer tracked; its history remains.\n", m.DeviceID)
				continue
			}
			writeVertical(stdout, res)
			continue
		}
		if err := res.WriteOutput(stdout, out); err != nil {
			return err
		}
	}
	return nil
}

// writeVertical writes a one-row result down the page, a column a line
// with its value whole, as psql's \x does: some 30 columns of one device
// read best that way.
func writeVertical(w io.Writer, res report.Result) {
	width := 0
	for _, c := range res.Columns {
		width = max(width, utf8.RuneCountInString(c))
	}
	for i, c := range res.Columns {
		v := ""
		if p := res.Rows[0][i]; p != nil {
			v = report.EscapeForTerminal(*p)
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s  %s", width, c, v), " "))
	}
}

// writeShowJSON writes one object, keys in the order of the sections: the
// inventory row (null for a removed device), the timeline and the merges,
// values typed as report --format json types them.
func writeShowJSON(w io.Writer, results []report.Result) error {
	var b bytes.Buffer
	b.WriteString("{")
	for i, s := range showSections {
		var section bytes.Buffer
		if err := results[i].Write(&section, "json"); err != nil {
			return err
		}
		value := bytes.TrimSpace(section.Bytes())
		if s.name == "device" {
			var rows []json.RawMessage
			if err := json.Unmarshal(value, &rows); err != nil {
				return err
			}
			value = []byte("null")
			if len(rows) > 0 {
				value = rows[0]
			}
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n%q: %s", s.name, value)
	}
	b.WriteString("\n}\n")
	_, err := w.Write(b.Bytes())
	return err
}
