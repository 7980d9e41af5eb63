package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/fleetpage"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// report overview is the fleet page: a report made of several, so it is
// a report name rather than a command of its own; it has one format, html.
const (
	overviewName        = "overview"
	overviewParams      = "days=30, runs=15, rows=25"
	overviewDescription = "The fleet page (--format html only): devices by connection status, model and software, offline and failing devices, changes per day, the last runs."
)

// validReportFormat is validFormat and html, which reports write as a page.
func validReportFormat(f string) error {
	if f == "html" {
		return nil
	}
	if err := validFormat(f); err != nil {
		return fmt.Errorf("--format %q: want table, csv, json or html", f)
	}
	return nil
}

func reportOverview(ctx context.Context, o dbOptions, params stringList, format string, limit int, wide bool, stdout io.Writer) error {
	var errs []error
	if format != "html" {
		errs = append(errs, fmt.Errorf("report %s is a page: give --format html (and redirect it to a file)", overviewName))
	}
	if limit != 0 || wide {
		errs = append(errs, fmt.Errorf("report %s takes no --limit or --wide (--param rows=N sizes its lists)", overviewName))
	}
	var po fleetpage.Options
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		n, err := strconv.Atoi(v)
		var dst *int
		switch k {
		case "days":
			dst = &po.Days
		case "runs":
			dst = &po.Runs
		case "rows":
			dst = &po.ListRows
		}
		switch {
		case !ok || dst == nil:
			errs = append(errs, fmt.Errorf("--param %q: report %s takes %s", p, overviewName, overviewParams))
		case err != nil || n < 1 || n > 10000:
			errs = append(errs, fmt.Errorf("--param %s=%s: want a whole number from 1 to 10000", k, v))
		default:
			*dst = n
		}
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	var page *fleetpage.Page
	err = st.ReadOnly(ctx, func(db store.Reader) error {
		page, err = fleetpage.Load(ctx, db, po)
		return err
	})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if err := page.Write(w); err != nil {
		return err
	}
	return w.Flush()
}
