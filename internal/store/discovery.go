package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/queries"
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
	err := s.pool.QueryRow(ctx, queries.Get("StartDiscovery"), pgx.NamedArgs{
		"org_id": nullable(orgID), "dry_run": dryRun, "prune": prune,
	}).Scan(&d.ID)
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
	err := s.inTxMaybeDry(ctx, d.DryRun, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, queries.Get("DiscoveryAdd"), pgx.NamedArgs{"device_ids": listed, "org_id": org})
		if err != nil {
			return err
		}
		if res.Added, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, queries.Get("DiscoveryUnlisted"), pgx.NamedArgs{"device_ids": listed, "org_id": org})
		if err != nil {
			return err
		}
		if res.Unlisted, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if d.Prune && len(res.Unlisted) > 0 {
			rows, err = tx.Query(ctx, queries.Get("UntrackDevices"), pgx.NamedArgs{"device_ids": res.Unlisted})
			if err != nil {
				return err
			}
			if res.Removed, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
		}
		if d.DryRun {
			return nil // the run is recorded below, after the rollback
		}
		return finishDiscovery(ctx, tx, d.ID, "succeeded", c, res, "")
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
		if err := finishDiscovery(ctx, s.pool, d.ID, "succeeded", c, res, ""); err != nil {
			return DiscoveryResult{}, fmt.Errorf("finish discovery %d: %w", d.ID, err)
		}
	}
	return res, nil
}

// FailDiscovery records that a discovery failed and changed nothing.
func (s *Store) FailDiscovery(ctx context.Context, d Discovery, c DiscoveryCounts, reason string) error {
	if err := finishDiscovery(ctx, s.pool, d.ID, "failed", c, DiscoveryResult{}, cleanText(reason)); err != nil {
		return fmt.Errorf("record failed discovery %d: %w", d.ID, err)
	}
	return nil
}

// execer is what a pool and a transaction share.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func finishDiscovery(ctx context.Context, db execer, id int64, status string, c DiscoveryCounts, res DiscoveryResult, errMsg string) error {
	_, err := db.Exec(ctx, queries.Get("FinishDiscovery"), pgx.NamedArgs{
		"discovery_id": id, "status": status, "pages": c.Pages, "devices_listed": c.Listed,
		"calling_listed": c.Calling, "rejected": c.Rejected, "added": len(res.Added),
		"unlisted": len(res.Unlisted), "removed": len(res.Removed), "error": nullable(errMsg),
	})
	return err
}
