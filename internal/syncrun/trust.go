package syncrun

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// When the listing stops excusing devices (issue 13). A field that
// disagrees with the details in more than TrustMaxDisagreement of its
// comparisons (and at least TrustMinDisagreements times, so that one device
// that moved between the listing and its details is not a verdict), or
// that missed a change the audit sample found, is not trusted for its org:
// every device of the org is fetched, as without the listing, until the
// field has agreed in TrustGoodRuns runs in a row.
const (
	TrustMaxDisagreement  = 0.01
	TrustMinDisagreements = 2
	TrustGoodRuns         = 3
)

// Defaults of the audit sample: this share of the devices the listing
// vouches for, and at least this many, are fetched all the same.
const (
	DefaultListingSample    = 0.005
	DefaultListingSampleMin = 5
)

// judge is the listing's trust for one org and field after a run that
// measured a. prev is the trust before the run (the zero Trust, with
// Trusted false, stands for "no record": trusted).
func judge(prev store.Trust, known bool, a store.Agreement, runID int64, now time.Time) store.Trust {
	if !known {
		prev = store.Trust{OrgKey: a.OrgKey, Field: a.Field, Trusted: true, Since: now}
	}
	bad := a.Missed > 0 ||
		(a.Disagreed >= TrustMinDisagreements && float64(a.Disagreed) > TrustMaxDisagreement*float64(a.Compared))
	next := prev
	switch {
	case bad:
		if prev.Trusted {
			next.Since, next.SinceRunID = now, runID
		}
		next.Trusted, next.GoodRuns = false, 0
		next.Evidence = fmt.Sprintf("run %d: %d of %d comparisons disagreed (%.1f%%); %d changes missed in an audit sample of %d",
			runID, a.Disagreed, a.Compared, 100*share(a.Disagreed, a.Compared), a.Missed, a.Sampled)
	case !prev.Trusted && a.Compared > 0:
		next.GoodRuns++
		if next.GoodRuns >= TrustGoodRuns {
			next.Trusted, next.GoodRuns, next.Since, next.SinceRunID = true, 0, now, runID
		}
	}
	return next
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// distrustedOrgs reads the orgs whose listing is not trusted for some
// field, and logs, once, why each is fetched whole.
func (r *run) distrustedOrgs(ctx context.Context) ([]string, error) {
	trust, err := r.st.ListingTrust(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var orgs []string
	for _, t := range trust {
		if t.Trusted {
			continue
		}
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "the device listing is not trusted for this org; fetching every device's details",
			slog.String("org_key", t.OrgKey), slog.String("field", t.Field), slog.Time("since", t.Since),
			slog.Int("good_runs", t.GoodRuns), slog.Int("good_runs_needed", TrustGoodRuns), slog.String("evidence", t.Evidence))
		if !seen[t.OrgKey] {
			seen[t.OrgKey] = true
			orgs = append(orgs, t.OrgKey)
		}
	}
	r.listing.Distrusted = orgs
	r.listing.DistrustedAfter = len(orgs)
	return orgs, nil
}

// checkListing measures how the listing agreed with the details this run
// fetched, logs every change the audit sample found that the listing had
// missed, and updates the listing's trust. It runs after the details are
// stored and before the run's listing is dropped.
func (r *run) checkListing(ctx context.Context) error {
	agreements, err := r.st.RecordListingAgreement(ctx, r.rec.ID)
	if err != nil {
		return err
	}
	missed, err := r.st.MissedChanges(ctx, r.rec.ID)
	if err != nil {
		return err
	}
	for _, m := range missed {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "the device listing missed a change the audit sample found",
			slog.String("device_id", m.DeviceID), slog.String("org_key", m.OrgKey), slog.String("field", m.Field),
			slog.String("old_value", deref(m.Old)), slog.String("new_value", deref(m.New)))
	}
	trust, err := r.st.ListingTrust(ctx)
	if err != nil {
		return err
	}
	prev := map[[2]string]store.Trust{}
	for _, t := range trust {
		prev[[2]string{t.OrgKey, t.Field}] = t
	}
	now := time.Now()
	after := maps.Clone(prev)
	for _, a := range agreements {
		r.listing.Compared += a.Compared
		r.listing.Disagreed += a.Disagreed
		r.listing.Missed += a.Missed
		p, known := prev[[2]string{a.OrgKey, a.Field}]
		next := judge(p, known, a, r.rec.ID, now)
		after[[2]string{a.OrgKey, a.Field}] = next
		if known && next == p {
			continue
		}
		if err := r.st.SetListingTrust(ctx, next); err != nil {
			return err
		}
		switch {
		case known && p.Trusted && !next.Trusted:
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "the device listing is no longer trusted for this org: its devices will all be fetched",
				slog.String("org_key", a.OrgKey), slog.String("field", a.Field), slog.String("evidence", next.Evidence))
		case !known && !next.Trusted:
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "the device listing is not trusted for this org: its devices will all be fetched",
				slog.String("org_key", a.OrgKey), slog.String("field", a.Field), slog.String("evidence", next.Evidence))
		case known && !p.Trusted && next.Trusted:
			r.log.LogAttrs(r.ctx, slog.LevelInfo, "the device listing is trusted again for this org",
				slog.String("org_key", a.OrgKey), slog.String("field", a.Field), slog.Int("good_runs", TrustGoodRuns))
		}
	}
	distrusted := map[string]bool{}
	for k, t := range after {
		if !t.Trusted {
			distrusted[k[0]] = true
		}
	}
	r.listing.DistrustedAfter = len(distrusted)
	r.log.LogAttrs(r.ctx, slog.LevelInfo, "device listing checked against the details",
		slog.Int("comparisons", r.listing.Compared), slog.Int("disagreements", r.listing.Disagreed),
		slog.Int("devices_sampled", r.listing.Due["sample"]), slog.Int("missed_changes", r.listing.Missed))
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
