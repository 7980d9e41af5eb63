package store

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// NewDevice is a device to track. OrgID is empty when the row is to have
// none (the token's own org, or --org-id at run time).
type NewDevice struct {
	ID    string
	OrgID string
}

// TrackChange is one device that TrackDevices added or whose org_id it set.
type TrackChange struct {
	DeviceID string
	Added    bool // false: already tracked (in another spelling, or its org_id changed)
	// TrackedAs is the ID the device is already tracked under when
	// DeviceID is another spelling of it; "" otherwise.
	TrackedAs string
	OldOrgID  *string // for a changed org_id
	NewOrgID  *string
}

// TrackDevices adds every device in one transaction: all of them or none.
// Devices already tracked as given are left alone and are not in the
// result. IDs must be unique in devs. With dryRun nothing is committed and
// the result says what would have changed.
func (s *Store) TrackDevices(ctx context.Context, devs []NewDevice, dryRun bool) ([]TrackChange, error) {
	ids, orgs := make([]string, len(devs)), make([]string, len(devs))
	for i, d := range devs {
		ids[i], orgs[i] = d.ID, cleanText(d.OrgID) // "" is no org_id
	}
	var out []TrackChange
	err := s.inTxMaybeDry(ctx, dryRun, func(q *dbsqlc.Queries) error {
		rows, err := q.TrackDevices(ctx, ids, orgs)
		out = make([]TrackChange, len(rows))
		for i, r := range rows {
			out[i] = TrackChange{DeviceID: r.DeviceID, Added: r.Added, TrackedAs: r.TrackedAs, OldOrgID: r.OldOrgID, NewOrgID: r.NewOrgID}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("track devices: %w", err)
	}
	slices.SortFunc(out, func(a, b TrackChange) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return out, nil
}

// UntrackDevices stops tracking the devices and returns those that were
// tracked. Their history stays.
func (s *Store) UntrackDevices(ctx context.Context, ids []string, dryRun bool) ([]string, error) {
	var out []string
	err := s.inTxMaybeDry(ctx, dryRun, func(q *dbsqlc.Queries) error {
		var err error
		out, err = q.UntrackDevices(ctx, ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove devices: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// TrackedDevice is a row of "devices list".
type TrackedDevice struct {
	DeviceID     string
	OrgID        *string
	SyncStatus   string
	Model        *string
	IP, MAC      *string
	LastSyncedAt *time.Time
	LastError    *string
}

// DeviceFilter selects the devices ListDevices returns; the zero value
// selects them all.
type DeviceFilter struct {
	Statuses []string         // sync_status is one of these
	MAC      net.HardwareAddr // the details' or the listing's MAC is this
}

// ListDevices returns the tracked devices that f selects, by ID.
func (s *Store) ListDevices(ctx context.Context, f DeviceFilter) ([]TrackedDevice, error) {
	statuses := f.Statuses
	if statuses == nil {
		statuses = []string{}
	}
	rows, err := s.q.ListDevices(ctx, statuses, f.MAC)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	out := make([]TrackedDevice, len(rows))
	for i, r := range rows {
		out[i] = TrackedDevice{DeviceID: r.DeviceID, OrgID: r.OrgID, SyncStatus: r.SyncStatus, Model: r.Model,
			LastSyncedAt: r.LastSyncedAt, LastError: r.LastError}
		if r.Ip != nil {
			ip := r.Ip.String()
			out[i].IP = &ip
		}
		if r.Mac != nil {
			mac := r.Mac.String()
			out[i].MAC = &mac
		}
	}
	return out, nil
}
