package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

// writePlainSummary tells a person at a terminal how the run went, in
// words: what happened, what changed, what failed and the command that
// shows it. The "run finished" log line keeps the same figures for
// programs. newFailed is the failed devices --tolerate-forbidden does not
// forgive, or -1 when it was not asked.
func writePlainSummary(w io.Writer, s syncrun.Summary, newFailed int) {
	var b strings.Builder
	took := s.Duration.Round(100 * time.Millisecond)
	scope := ""
	if !s.Scope.IsAll() {
		scope = " (shard " + s.Scope.String() + ")"
	}
	c := s.Counts
	switch s.Status {
	case store.RunSucceeded:
		if s.Total == 0 {
			fmt.Fprintf(&b, "\nRun %d%s finished in %s with nothing to sync.\n", s.RunID, scope, took)
		} else {
			fmt.Fprintf(&b, "\nRun %d%s finished in %s: all %s synced.\n", s.RunID, scope, took, plural(s.Total, "device"))
		}
	case store.RunPartial:
		fmt.Fprintf(&b, "\nRun %d%s finished in %s with %s of %d not synced.\n", s.RunID, scope, took, plural(c.Failed+c.Skipped, "device"), s.Total)
	case store.RunInterrupted:
		fmt.Fprintf(&b, "\nRun %d%s was interrupted after %s; what was fetched is stored.\n", s.RunID, scope, took)
	default:
		fmt.Fprintf(&b, "\nRun %d%s failed after %s.\n", s.RunID, scope, took)
	}
	if s.Err != nil {
		// Escaped: the error may quote what Webex sent.
		fmt.Fprintf(&b, "  Why: %s\n", strings.ReplaceAll(Message(s.Err), "\n", "\n       "))
	}
	if s.Listing.Status != syncrun.ListingOff {
		fmt.Fprintf(&b, "  Listing:   %s confirmed unchanged by the device listing (%s), %s\n",
			plural(s.Listing.Confirmed, "device"), plural(int(s.Listing.Requests), "listing request"), listingWord(s.Listing))
	}
	if nothingToSync(s) {
		fmt.Fprintf(&b, "  %s.\n", noDevicesHint(s.Scope))
		io.WriteString(w, b.String())
		return
	}
	fmt.Fprintf(&b, "  Synced:    %s", plural(c.OK, "device"))
	if c.NotFound > 0 {
		fmt.Fprintf(&b, ", and %d no longer in Webex (not found)", c.NotFound)
	}
	b.WriteString("\n")
	if c.Changed > 0 {
		fmt.Fprintf(&b, "  Changed:   %s (%s recorded): %s report changes_by_run --param run_id=%d\n",
			plural(c.Changed, "device"), plural(c.Changes, "change"), Name, s.RunID)
	} else {
		b.WriteString("  Changed:   nothing\n")
	}
	if c.Failed > 0 {
		fmt.Fprintf(&b, "  Failed:    %s, with the reason stored: %s report failing_devices\n", plural(c.Failed, "device"), Name)
		switch {
		case newFailed == 0:
			b.WriteString("             all forbidden, and failing before too: tolerated (--tolerate-forbidden)\n")
		case newFailed > 0:
			fmt.Fprintf(&b, "             %d of them new since the last run (--tolerate-forbidden forgives only the others)\n", newFailed)
		}
	}
	if c.Skipped > 0 {
		why := "not reached"
		if s.BudgetReached {
			why = "not reached in the time budget"
		}
		fmt.Fprintf(&b, "  Skipped:   %s %s; the next run takes them again, after any device that may have changed\n", plural(c.Skipped, "device"), why)
	}
	if a := s.DetailsAge; s.DetailsAgeKnown && a.WithDetails > 0 {
		fmt.Fprintf(&b, "  Freshness: the oldest details are %s old, 99%% are under %s; %s refreshed for age this run\n",
			roughAge(a.Oldest), roughAge(a.P99), plural(s.Listing.Due["max_age"], "device"))
	}
	fmt.Fprintf(&b, "  Requests:  %d sent to Webex, %d throttled (429/423)\n", s.Requests, s.Throttled)
	io.WriteString(w, b.String())
}

// listingWord says in a few words how the listing sweep went.
func listingWord(l syncrun.ListingSummary) string {
	switch l.Status {
	case syncrun.ListingComplete:
		return "read whole"
	case syncrun.ListingForbidden:
		return "not allowed to this token (it needs spark-admin:devices_read): every device was fetched"
	default:
		return "not read whole: the devices of the orgs it missed were fetched"
	}
}

// roughAge spells an age the way a person reads it: seconds, minutes or
// hours, to a few figures.
func roughAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0f min", d.Minutes())
	default:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
}
