package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// Agreement is how often, in one run, the listing agreed with the details
// for one org and one field (ip, mac, activating).
type Agreement struct {
	OrgKey    string // the org's ID, "" for devices without org_id
	Field     string
	Compared  int // devices fetched this run that the listing showed with the field
	Disagreed int
	Sampled   int // devices the listing vouched for, fetched as a check
	Missed    int // of them, those whose details changed this field
}

// RecordListingAgreement measures the run's agreement between the listing
// and the details it fetched, stores it (listing_agreement and the run's
// totals) and returns it. Call it after the details are stored and before
// FinishRun, which drops the run's listing.
func (s *Store) RecordListingAgreement(ctx context.Context, runID int64) ([]Agreement, error) {
	var rows []dbsqlc.RecordListingAgreementRow
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		rows, err = s.q.RecordListingAgreement(ctx, runID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record the listing's agreement: %w", err)
	}
	out := make([]Agreement, len(rows))
	for i, r := range rows {
		out[i] = Agreement{OrgKey: r.OrgKey, Field: r.Field, Compared: int(r.Compared), Disagreed: int(r.Disagreed),
			Sampled: int(r.Sampled), Missed: int(r.Missed)}
	}
	return out, nil
}

// MissedChange is a change the run found in its audit sample: the listing
// vouched for the device, and its details had changed.
type MissedChange struct {
	DeviceID, OrgKey, Field string
	Old, New                *string
}

// MissedChanges lists the changes run runID found in its audit sample.
func (s *Store) MissedChanges(ctx context.Context, runID int64) ([]MissedChange, error) {
	var rows []dbsqlc.ListMissedChangesRow
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		rows, err = s.q.ListMissedChanges(ctx, runID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the changes the listing missed: %w", err)
	}
	out := make([]MissedChange, len(rows))
	for i, r := range rows {
		out[i] = MissedChange{DeviceID: r.DeviceID, OrgKey: r.OrgKey, Field: r.Field, Old: r.OldValue, New: r.NewValue}
	}
	return out, nil
}

// Trust is whether the listing may excuse an org's devices, for one field.
type Trust struct {
	OrgKey, Field string
	Trusted       bool
	Since         time.Time // when it became what it is
	SinceRunID    int64     // the run that decided it (0: none)
	GoodRuns      int       // runs in a row that agreed, while untrusted
	Evidence      string    // why it was last distrusted
}

// ListingTrust reads every org's and field's trust.
func (s *Store) ListingTrust(ctx context.Context) ([]Trust, error) {
	var rows []dbsqlc.ListingTrustRow
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		rows, err = s.q.ListingTrust(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the listing's trust: %w", err)
	}
	out := make([]Trust, len(rows))
	for i, r := range rows {
		out[i] = Trust{OrgKey: r.OrgKey, Field: r.Field, Trusted: r.Trusted, Since: r.Since, GoodRuns: int(r.GoodRuns), Evidence: r.Evidence}
		if r.SinceRunID != nil {
			out[i].SinceRunID = *r.SinceRunID
		}
	}
	return out, nil
}

// SetListingTrust records t.
func (s *Store) SetListingTrust(ctx context.Context, t Trust) error {
	p := dbsqlc.SetListingTrustParams{OrgKey: t.OrgKey, Field: t.Field, Trusted: t.Trusted, Since: t.Since,
		GoodRuns: int32(t.GoodRuns), Evidence: nullable(t.Evidence)}
	if t.SinceRunID != 0 {
		p.SinceRunID = &t.SinceRunID
	}
	if err := s.withRetry(ctx, func(ctx context.Context) error { return s.q.SetListingTrust(ctx, p) }); err != nil {
		return fmt.Errorf("record the listing's trust for org %q, field %s: %w", t.OrgKey, t.Field, err)
	}
	return nil
}
