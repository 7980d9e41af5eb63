package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// ListingOrgs returns the org keys of scope's devices: their org_id, or ""
// for rows without one (the run's default org).
func (s *Store) ListingOrgs(ctx context.Context, scope Scope) ([]string, error) {
	var orgs []string
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		orgs, err = s.q.ListingOrgs(ctx, int32(scope.Count), int32(scope.Index))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the orgs to list: %w", err)
	}
	return orgs, nil
}

// ListingCounts is what one page of the listing said about the tracked
// devices.
type ListingCounts struct {
	Matched          int // tracked devices of the scope it showed
	Flagged          int // of them, those whose details it asks for
	InventoryChanged int // devices whose listing columns changed
}

// ApplyListingPage records one listing page for run: for every tracked
// device of orgKey in the run's scope that it shows (matched by the UUID
// inside the ID), whether the listing asks for its details, the listing's
// columns of the inventory where they changed, and when the listing saw
// it. Items without a device key are ignored.
func (s *Store) ApplyListingPage(ctx context.Context, run Run, orgKey string, items []device.Listed) (ListingCounts, error) {
	n := len(items)
	col := func() []string { return make([]string, 0, n) }
	p := dbsqlc.ApplyListingPageParams{
		RunID: run.ID, OrgKey: orgKey, ShardCount: int32(run.Scope.Count), ShardIndex: int32(run.Scope.Index),
		DeviceKeys: col(), Ips: col(), Macs: col(), ConnectionStatuses: col(), Softwares: col(), Serials: col(),
		DisplayNames: col(), Products: col(), PersonIds: col(), WorkspaceIds: col(), LocationIds: col(), LastSeens: col(),
	}
	for _, it := range items {
		if it.Key == "" {
			continue
		}
		var ip, mac, seen string
		if it.IP.IsValid() {
			ip = it.IP.Unmap().String()
		}
		if it.MAC != nil {
			mac = it.MAC.String()
		}
		if !it.LastSeen.IsZero() {
			seen = it.LastSeen.UTC().Format(time.RFC3339Nano)
		}
		p.DeviceKeys = append(p.DeviceKeys, string(it.Key))
		p.Ips = append(p.Ips, ip)
		p.Macs = append(p.Macs, mac)
		p.ConnectionStatuses = append(p.ConnectionStatuses, cleanText(string(it.ConnectionStatus)))
		p.Softwares = append(p.Softwares, cleanText(it.Software))
		p.Serials = append(p.Serials, cleanText(it.Serial))
		p.DisplayNames = append(p.DisplayNames, cleanText(it.DisplayName))
		p.Products = append(p.Products, cleanText(it.Product))
		p.PersonIds = append(p.PersonIds, cleanText(it.PersonID))
		p.WorkspaceIds = append(p.WorkspaceIds, cleanText(it.WorkspaceID))
		p.LocationIds = append(p.LocationIds, cleanText(it.LocationID))
		p.LastSeens = append(p.LastSeens, seen)
	}
	if len(p.DeviceKeys) == 0 {
		return ListingCounts{}, nil
	}
	var row dbsqlc.ApplyListingPageRow
	// One statement, and what it writes compares equal when sent again:
	// safe to retry after a lost connection.
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		row, err = s.q.ApplyListingPage(ctx, p)
		return err
	})
	if err != nil {
		return ListingCounts{}, fmt.Errorf("store a listing page: %w", err)
	}
	return ListingCounts{Matched: int(row.Matched), Flagged: int(row.Flagged), InventoryChanged: int(row.InventoryChanged)}, nil
}
