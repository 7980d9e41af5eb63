package syncrun

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// ListingStatus is how the listing sweep went.
type ListingStatus string

const (
	ListingOff        ListingStatus = ""           // Detect none
	ListingComplete   ListingStatus = "complete"   // every org's listing read whole
	ListingIncomplete ListingStatus = "incomplete" // some org's listing failed: its devices were all fetched
	ListingForbidden  ListingStatus = "forbidden"  // the token cannot list: every device was fetched
)

// ListingSummary is what the listing sweep read and decided.
type ListingSummary struct {
	Status    ListingStatus
	Error     string // why the listing was not complete
	Orgs      int    // orgs listed
	Pages     int    // pages received
	Items     int    // items received
	Listed    int    // tracked devices of the scope the listing showed
	Flagged   int    // of them, those whose details the listing asked for
	Confirmed int    // devices the listing vouched for: no details request
	Requests  int64  // HTTP requests of the sweep, retries included
	// The check of the listing against the details (issue 13).
	Distrusted []string // org keys the listing excused nobody in: not trusted
	// DistrustedAfter counts the orgs whose listing is not trusted for some
	// field once the run's own check is done: what the next run will fetch
	// whole.
	DistrustedAfter int
	Compared        int // field comparisons between listing and details
	Disagreed       int
	Missed          int // changes the audit sample found that the listing missed
	// Due counts the work list by reason (never_synced, failed,
	// listing_ip, not_listed, max_age, ...).
	Due map[string]int
	// RunInterval is how often the scope runs (the median of its last
	// runs); RefreshShare the share of the fleet the run refreshes for
	// age (RunInterval over the max age, at most 1).
	RunInterval  time.Duration
	RefreshShare float64
}

// sweepAndQueue reads the listing (Detect listing) and writes the run's
// work list from it. A listing that could not be read whole, or that the
// token may not read (403: no spark-admin:devices_read), never excuses a
// device of its org: those devices are fetched as without the listing,
// after one warning.
func (r *run) sweepAndQueue(ctx context.Context) error {
	o := store.DueOptions{MaxAge: r.cfg.DetailMaxAge}
	if r.cfg.Detect == store.DetectListing {
		complete, err := r.sweep(ctx)
		if err != nil {
			return err
		}
		o.UseListing = r.listing.Status != ListingForbidden
		o.CompleteOrgs = complete
		if o.DistrustedOrgs, err = r.distrustedOrgs(ctx); err != nil {
			return err
		}
		o.SampleFraction, o.SampleMin = r.cfg.ListingSample, r.cfg.ListingSampleMin
		if o.RefreshShare, err = r.refreshShare(ctx); err != nil {
			return err
		}
	}
	// Writing the work list is the database's part of starting: it goes on
	// when the budget ran out during the sweep (the run then stores nothing
	// and reports every device skipped), but not past a signal.
	qctx := context.WithoutCancel(r.ctx)
	if r.ctx.Err() != nil {
		qctx = r.ctx
	}
	qc, err := r.st.QueueDue(qctx, &r.rec, o)
	if err != nil {
		return err
	}
	r.listing.Confirmed, r.listing.Due = qc.Confirmed, qc.ByReason
	if r.cfg.Detect == store.DetectListing {
		r.logSweep()
	}
	return ctx.Err()
}

// refreshShare is the share of the fleet this run refreshes whatever the
// listing says: the scope's run interval over the max age, so that every
// run refreshes as many devices as the fleet needs per run on average, and
// a fleet synced in one run is not due again all in one run a max age
// later. Before a second run the interval is unknown: only the overdue
// are refreshed.
func (r *run) refreshShare(ctx context.Context) (float64, error) {
	every, err := r.st.RecentRunInterval(ctx, r.rec)
	if err != nil {
		return 0, err
	}
	r.listing.RunInterval = every
	r.listing.RefreshShare = min(every.Seconds()/r.cfg.DetailMaxAge.Seconds(), 1)
	return r.listing.RefreshShare, nil
}

// sweep pages through each org's listing and stores what it says. It
// returns the org keys whose listing was read whole, and an error only for
// a failure that stops the run (the token rejected, Webex unreachable, an
// untrusted certificate, the database).
func (r *run) sweep(ctx context.Context) ([]string, error) {
	before := r.client.Stats()
	defer func() { r.listing.Requests = r.client.Stats().Requests - before.Requests }()
	orgs := r.orgs
	var complete []string
	forbidden := 0
	for _, org := range orgs {
		orgID := org
		if orgID == "" {
			orgID = r.cfg.DefaultOrgID
		}
		r.listing.Orgs++
		st, err := r.client.EachListPage(ctx, fetch.ListOptions{OrgID: orgID, PageSize: r.cfg.ListingPageSize}, func(p fetch.ListPage) error {
			c, err := r.st.ApplyListingPage(ctx, r.rec, org, p.Items)
			if err != nil {
				return err
			}
			r.listing.Listed += c.Matched
			r.listing.Flagged += c.Flagged
			return nil
		})
		r.listing.Pages += st.Pages
		r.listing.Items += st.Items
		switch {
		case err == nil:
			complete = append(complete, org)
			continue
		case ctx.Err() != nil:
			// A signal or the budget: the run's outcome says which.
			r.listing.Status, r.listing.Error = ListingIncomplete, context.Cause(ctx).Error()
			return complete, nil
		}
		var fe *fetch.Error
		if errors.As(err, &fe) {
			if err := stopsTheRun(fe, "device listing"); err != nil {
				return nil, err
			}
		}
		var le *fetch.ListError
		if !errors.As(err, &le) {
			return nil, err // the store failed: the run cannot go on
		}
		if r.listing.Error == "" {
			r.listing.Error = err.Error()
		}
		if errors.Is(err, fetch.ErrListForbidden) {
			forbidden++
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "the token may not list this org's devices; fetching the details of every device of the org",
				slog.String("org_id", orgID), slog.String("error", err.Error()),
				slog.String("fix", "grant the token spark-admin:devices_read, or run with --detect none"))
			continue
		}
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "the device listing could not be read whole; fetching the details of every device of its org",
			slog.String("org_id", orgID), slog.Int("pages_read", st.Pages), slog.String("error", err.Error()))
	}
	switch {
	case len(complete) == len(orgs):
		r.listing.Status = ListingComplete
	case len(complete) == 0 && forbidden == len(orgs):
		r.listing.Status = ListingForbidden
	default:
		r.listing.Status = ListingIncomplete
	}
	return complete, nil
}

// logSweep writes the sweep's one line: what it read, what it decided.
func (r *run) logSweep() {
	l := r.listing
	attrs := []slog.Attr{slog.String("listing_status", string(l.Status)), slog.Int("orgs", l.Orgs),
		slog.Int("pages", l.Pages), slog.Int("items", l.Items), slog.Int("devices_listed", l.Listed),
		slog.Int("devices_flagged", l.Flagged), slog.Int("devices_confirmed", l.Confirmed),
		slog.Int("devices_due", r.rec.Total), slog.Int64("listing_requests", l.Requests),
		slog.Float64("run_interval_seconds", l.RunInterval.Seconds()), slog.Float64("refresh_share", l.RefreshShare)}
	reasons := make([]string, 0, len(l.Due))
	for k := range l.Due {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	due := make([]any, 0, len(reasons))
	for _, k := range reasons {
		due = append(due, slog.Int(k, l.Due[k]))
	}
	attrs = append(attrs, slog.Group("due_by_reason", due...))
	r.log.LogAttrs(r.ctx, slog.LevelInfo, "device listing read", attrs...)
}
