package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

func cmdReport(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o      dbOptions
		params stringList
		format string
		list   bool
		limit  int
		wide   bool
	)
	fs := newFlagSet("report NAME", "Runs a report: one of the SQL files in queries/reports, embedded, the same\nthat run with psql -f. --list shows every report and its parameters. A\ndevice_id parameter takes any identifier of one device: its ID in any\nspelling (DEVICE or CALLING_DEVICE, padded or not), the UUID, a MAC, or the\nshort ID a table prints; several devices matching is exit 2, none exit 1.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	fs.Var(&params, "param", "a report parameter, name=value (repeatable)")
	fs.StringVar(&format, "format", "table", "output format: table, csv (text, as psql prints it), json (numbers,\nbooleans and nulls typed) or html (a self-contained page; report overview\nis the fleet page)")
	fs.IntVar(&limit, "limit", 0, "show the first N rows only; 0: all")
	fs.BoolVar(&wide, "wide", false, "table: show IDs, times and long text whole (else IDs are cut to their\nUUID's start and long text to fit 120 columns or the terminal)")
	fs.BoolVar(&list, "list", false, "list the reports and their parameters")
	names, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if list {
		if len(names) > 0 || len(params) > 0 {
			return usageErr("report --list takes no report name or --param")
		}
		return writeReportList(stdout, tableOutput("table", 0, wide, stdout))
	}
	if len(names) == 1 && names[0] == overviewName {
		return reportOverview(ctx, o, params, format, limit, wide, stdout)
	}
	var errs []error
	if err := validReportFormat(format); err != nil {
		errs = append(errs, err)
	}
	if limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d: want 0 (all) or more", limit))
	}
	var r report.Report
	switch len(names) {
	case 0:
		errs = append(errs, fmt.Errorf("report: no report name given (see %s report --list)", Name))
	case 1:
		if r, err = report.Find(names[0]); err != nil {
			// The fleet page is a report too, though not a SQL file.
			errs = append(errs, fmt.Errorf("%w, and %s (the fleet page, --format html)", err, overviewName))
		}
	default:
		errs = append(errs, fmt.Errorf("report: one report at a time, got %d names", len(names)))
	}
	values := map[string]string{}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("--param %q: want name=value", p))
			continue
		}
		if _, dup := values[k]; dup {
			errs = append(errs, fmt.Errorf("--param %s given twice", k))
		}
		values[k] = v
	}
	if v, ok := values[deviceAlias]; ok && r.HasParam(deviceParam) && !r.HasParam(deviceAlias) {
		// "--param device=X" reads as naturally as device_id, the psql
		// variable's name.
		if _, both := values[deviceParam]; both {
			errs = append(errs, fmt.Errorf("--param %s and --param %s name the same device: give one", deviceAlias, deviceParam))
		}
		delete(values, deviceAlias)
		values[deviceParam] = v
	}
	if r.Name != "" {
		errs = append(errs, r.Check(values)...)
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	if id, ok := values[deviceParam]; ok {
		// The report matches the ID as stored; what the person holds may
		// be another spelling, the UUID, a MAC or a table's short ID.
		m, err := findDevice(ctx, st, "--param "+deviceParam, id)
		if err != nil {
			return err
		}
		fmt.Fprint(stderr, noteMatch(m, id))
		values[deviceParam] = m.DeviceID
	}
	out := tableOutput(format, limit, wide, stdout)
	out.Title, out.Description = r.Name, r.Description
	err = st.ReadOnly(ctx, func(db store.Reader) error {
		_, err := r.Stream(ctx, db, values, out, stdout)
		return err
	})
	var pe *report.ParamError
	if errors.As(err, &pe) {
		return usageErr("report %s: %v", r.Name, pe)
	}
	return err
}

// deviceParam is the report parameter that names one device. The report
// command resolves it as "devices show" does, so that any identifier works;
// the SQL itself, run with psql, takes the ID as stored.
const deviceParam = "device_id"

// deviceAlias is another name the report command takes for deviceParam.
const deviceAlias = "device"

// tableOutput is the Output of a listing command: a table fits the
// terminal when standard output is one, else 120 columns.
func tableOutput(format string, limit int, wide bool, stdout io.Writer) report.Output {
	out := report.Output{Format: format, Limit: limit, Wide: wide}
	if f, ok := stdout.(*os.File); ok && isTerminal(f) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w >= 40 {
			out.Width = w
		}
	}
	return out
}

// writeReportList writes the reports, their parameters and what each
// tells, as a table like a report's: the descriptions wrap to fit 120
// columns or the terminal (--wide: one line each).
func writeReportList(w io.Writer, out report.Output) error {
	all, err := report.All()
	if err != nil {
		return err
	}
	text := func(s string) *string { return &s }
	res := report.Result{
		Columns: []string{"report", "parameters", "description"},
		Kinds:   []report.Kind{report.KindText, report.KindText, report.KindText},
	}
	for _, r := range all {
		var ps []string
		for _, p := range r.Params {
			switch {
			case p.Required:
				ps = append(ps, p.Name+" (required)")
			case p.Default == "" && len(p.OneOf) > 0:
				ps = append(ps, p.Name+" (optional: "+strings.Join(p.OneOf, ", ")+")")
			case p.Default == "":
				ps = append(ps, p.Name+" (optional)")
			default:
				ps = append(ps, p.Name+"="+p.Default)
			}
		}
		params := strings.Join(ps, ", ")
		if params == "" {
			params = "-"
		}
		res.Rows = append(res.Rows, []*string{text(r.Name), text(params), text(r.Description)})
	}
	res.Rows = append(res.Rows, []*string{text(overviewName), text(overviewParams), text(overviewDescription)})
	return res.WriteOutput(w, out)
}
