package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wxc-inventory/wxc-sync/internal/report"
)

func cmdReport(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o      dbOptions
		params stringList
		format string
		list   bool
	)
	fs := newFlagSet("report NAME", "Runs a report: one of the SQL files in queries/reports, embedded, the same\nthat run with psql -f. --list shows every report and its parameters.", stdout)
	o.register(fs)
	fs.Var(&params, "param", "a report parameter, name=value (repeatable)")
	fs.StringVar(&format, "format", "table", "output format: table, csv or json")
	fs.BoolVar(&list, "list", false, "list the reports and their parameters")
	names, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if list {
		if len(names) > 0 || len(params) > 0 {
			return usageErr("report --list takes no report name or --param")
		}
		return writeReportList(stdout)
	}
	var errs []error
	if err := validFormat(format); err != nil {
		errs = append(errs, err)
	}
	var r report.Report
	switch len(names) {
	case 0:
		errs = append(errs, fmt.Errorf("report: no report name given (see %s report --list)", Name))
	case 1:
		if r, err = report.Find(names[0]); err != nil {
			errs = append(errs, err)
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
	if r.Name != "" {
		known := map[string]bool{}
		for _, p := range r.Params {
			known[p.Name] = true
			if _, ok := values[p.Name]; !ok && p.Required {
				errs = append(errs, fmt.Errorf("report %s needs --param %s=...", r.Name, p.Name))
			}
		}
		for k := range values {
			if !known[k] {
				errs = append(errs, fmt.Errorf("--param %s: report %s has no such parameter (%s)", k, r.Name, paramNames(r)))
			}
		}
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	st, closeDB, err := openStore(ctx, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := r.Run(ctx, st.Pool(), values)
	if err != nil {
		return err
	}
	return res.Write(stdout, format)
}

func paramNames(r report.Report) string {
	if len(r.Params) == 0 {
		return "it takes none"
	}
	var ns []string
	for _, p := range r.Params {
		ns = append(ns, p.Name)
	}
	return "it takes " + strings.Join(ns, ", ")
}

func writeReportList(w io.Writer) error {
	all, err := report.All()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tPARAMETERS\tDESCRIPTION")
	for _, r := range all {
		var ps []string
		for _, p := range r.Params {
			switch {
			case p.Required:
				ps = append(ps, p.Name+" (required)")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, params, r.Description)
	}
	return tw.Flush()
}
