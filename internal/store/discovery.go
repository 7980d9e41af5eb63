package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// Discovery is a started discovery run.
type Discovery struct {
	ID     int64
	OrgID  string
	DryRun bool
	Prune  bool
}

// DiscoveryCounts is what a discovery listed, before it touches the
// inventory.
type DiscoveryCounts struct {
	Pages, Listed, Calling, Rejected int
}

// DiscoveryResult is what a discovery changed (or, for a dry run, would).
type DiscoveryResult struct {
	Added    []string // listed, not tracked before
	Unlisted []string // tracked in the org but not listed
	Removed  []string // of Unlisted, removed (prune)
}

// StartDiscovery records a discovery run as running.
func (s *Store) StartDiscovery(ctx context.Context, orgID string, dryRun, prune bool) (Discovery, error) {
	d := Discovery{OrgID: orgID, DryRun: dryRun, Prune: prune}
	id, err := s.q.StartDiscovery(ctx, dbsqlc.StartDiscoveryParams{OrgID: nullable(orgID), DryRun: dryRun, Prune: prune})
	d.ID = id
	if err != nil {
		return Discovery{}, fmt.Errorf("start discovery: %w", err)
	}
	return d, nil
}

// ApplyDiscovery adds the listed devices not tracked yet and finds (and with
// Prune removes) the tracked devices of the org that were not listed, in one
// transaction that also marks the run succeeded. listed must be the whole
// listing: a partial one would report, and prune, devices that exist.
func (s *Store) ApplyDiscovery(ctx context.Context, d Discovery, listed []string, c DiscoveryCounts) (DiscoveryResult, error) {
	var res DiscoveryResult
	org := nullable(d.OrgID)
	err := s.inTxMaybeDry(ctx, d.DryRun, func(q *dbsqlc.Queries) error {
		var err error
		if res.Added, err = q.DiscoveryAdd(ctx, listed, org); err != nil {
			return err
		}
		if res.Unlisted, err = q.DiscoveryUnlisted(ctx, org, listed); err != nil {
			return err
		}
		if d.Prune && len(res.Unlisted) > 0 {
			if res.Removed, err = q.UntrackDevices(ctx, res.Unlisted); err != nil {
				return err
			}
		}
		if d.DryRun {
			return nil // the run is recorded below, after the rollback
		}
		return finishDiscovery(ctx, q, d.ID, "succeeded", c, res, "")
	})
	if err != nil {
		return DiscoveryResult{}, fmt.Errorf("apply discovery %d: %w", d.ID, err)
	}
	// Byte order, whatever the database's collation: the lists are printed
	// and compared.
	slices.Sort(res.Added)
	slices.Sort(res.Unlisted)
	slices.Sort(res.Removed)
	if d.DryRun {
		if err := finishDiscovery(ctx, s.q, d.ID, "succeeded", c, res, ""); err != nil {
			return DiscoveryResult{}, fmt.Errorf("finish discovery %d: %w", d.ID, err)
		}
	}
	return res, nil
}

// FailDiscovery records that a discovery failed and changed nothing.
// It records even when ctx has ended (that may be why the discovery
// failed), for at most bookkeepingTimeout.
func (s *Store) FailDiscovery(ctx context.Context, d Discovery, c DiscoveryCounts, reason string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := finishDiscovery(ctx, s.q, d.ID, "failed", c, DiscoveryResult{}, reason); err != nil {
		return fmt.Errorf("record failed discovery %d: %w", d.ID, err)
	}
	return nil
}

func finishDiscovery(ctx context.Context, q *dbsqlc.Queries, id int64, status string, c DiscoveryCounts, res DiscoveryResult, errMsg string) error {
	return q.FinishDiscovery(ctx, dbsqlc.FinishDiscoveryParams{
		DiscoveryID: id, Status: status, Pages: int32(c.Pages), DevicesListed: int32(c.Listed),
		CallingListed: int32(c.Calling), Rejected: int32(c.Rejected), Added: int32(len(res.Added)),
		Unlisted: int32(len(res.Unlisted)), Removed: int32(len(res.Removed)), Error: nullable(errMsg),
	})
}
