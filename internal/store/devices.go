package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/queries"
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
	Added    bool    // false: already tracked, org_id changed
	OldOrgID *string // for a changed org_id
	NewOrgID *string
}

// TrackDevices adds every device in one transaction: all of them or none.
// Devices already tracked as given are left alone and are not in the
// result. IDs must be unique in devs. With dryRun nothing is committed and
// the result says what would have changed.
func (s *Store) TrackDevices(ctx context.Context, devs []NewDevice, dryRun bool) ([]TrackChange, error) {
	ids, orgs := make([]string, len(devs)), make([]*string, len(devs))
	for i, d := range devs {
		ids[i], orgs[i] = d.ID, nullable(d.OrgID)
	}
	var out []TrackChange
	err := s.inTxMaybeDry(ctx, dryRun, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, queries.Get("TrackDevices"), pgx.NamedArgs{"device_ids": ids, "org_ids": orgs})
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TrackChange])
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
	err := s.inTxMaybeDry(ctx, dryRun, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, queries.Get("UntrackDevices"), pgx.NamedArgs{"device_ids": ids})
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
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

// ListDevices returns the tracked devices whose sync_status is one of
// statuses (all of them when statuses is empty), by ID.
func (s *Store) ListDevices(ctx context.Context, statuses []string) ([]TrackedDevice, error) {
	if statuses == nil {
		statuses = []string{}
	}
	rows, err := s.pool.Query(ctx, queries.Get("ListDevices"), pgx.NamedArgs{"statuses": statuses})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[TrackedDevice])
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}
