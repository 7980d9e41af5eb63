// Package discover finds the org's Webex Calling devices through the device
// listing and brings the inventory in line: it adds the calling devices not
// tracked yet and reports (and with Prune removes) tracked devices the
// listing no longer returns. It sits between fetch (HTTP) and store (SQL),
// as syncrun does for a run, and records every discovery in discovery_runs.
package discover

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// Lister lists the org's devices; *fetch.Client is one.
type Lister interface {
	ListDevices(ctx context.Context, opts fetch.ListOptions) (fetch.Listing, error)
}

// Config is one discovery.
type Config struct {
	OrgID    string // orgId to list; also the org_id of the devices added
	Type     string // optional type filter
	PageSize int
	Prune    bool // remove tracked devices of the org that are not listed
	DryRun   bool // compute and record, commit nothing to devices
	Logger   *slog.Logger
}

// Rejected is a listed callingDeviceId that is not a plausible device ID.
type Rejected struct {
	CallingDeviceID string
	Reason          string
}

// Summary is what a discovery found and did.
type Summary struct {
	DiscoveryID int64
	Pages       int
	Listed      int // items in the listing
	Calling     int // distinct valid callingDeviceIds
	Rejected    []Rejected
	store.DiscoveryResult
}

// Run lists the org's devices and applies the result. If the listing fails
// (a page that keeps failing, a next link to another host), the discovery
// is recorded as failed and the inventory is not touched.
func Run(ctx context.Context, st *store.Store, l Lister, cfg Config) (Summary, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := st.StartDiscovery(ctx, cfg.OrgID, cfg.DryRun, cfg.Prune)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{DiscoveryID: d.ID}
	listing, err := l.ListDevices(ctx, fetch.ListOptions{OrgID: cfg.OrgID, Type: cfg.Type, PageSize: cfg.PageSize})
	if err != nil {
		err = fmt.Errorf("discovery %d changed nothing: %w", d.ID, err)
		// Record the failure even when ctx ended: that is why it failed.
		if ferr := st.FailDiscovery(context.WithoutCancel(ctx), d, store.DiscoveryCounts{}, err.Error()); ferr != nil {
			log.LogAttrs(ctx, slog.LevelError, "recording the failed discovery failed", slog.String("error", ferr.Error()))
		}
		return sum, err
	}
	sum.Pages, sum.Listed = listing.Pages, len(listing.Devices)
	seen := map[deviceid.Key]bool{}
	var ids []string
	for _, item := range listing.Devices {
		if item.CallingDeviceID == "" {
			continue // not a Webex Calling device
		}
		id, err := deviceid.Parse(item.CallingDeviceID)
		if err != nil {
			sum.Rejected = append(sum.Rejected, Rejected{CallingDeviceID: item.CallingDeviceID, Reason: err.Error()})
			log.LogAttrs(ctx, slog.LevelWarn, "listing returned a callingDeviceId that is not a device ID",
				slog.String("calling_device_id", item.CallingDeviceID), slog.String("list_id", item.ID), slog.String("reason", err.Error()))
			continue
		}
		if seen[id.Key()] {
			continue
		}
		seen[id.Key()] = true
		ids = append(ids, id.Raw)
	}
	sum.Calling = len(ids)
	counts := store.DiscoveryCounts{Pages: sum.Pages, Listed: sum.Listed, Calling: sum.Calling, Rejected: len(sum.Rejected)}
	if ids == nil {
		ids = []string{}
	}
	var res store.DiscoveryResult
	if cfg.Prune && len(ids) == 0 {
		// An empty listing is far more often the wrong token, org or type
		// filter than an org without devices: never prune on it.
		err = fmt.Errorf("discovery %d changed nothing: the listing has no calling devices, and --prune would remove every tracked device of the org", d.ID)
	} else {
		res, err = st.ApplyDiscovery(ctx, d, ids, counts)
	}
	if err != nil {
		if ferr := st.FailDiscovery(context.WithoutCancel(ctx), d, counts, err.Error()); ferr != nil {
			log.LogAttrs(ctx, slog.LevelError, "recording the failed discovery failed", slog.String("error", ferr.Error()))
		}
		return sum, err
	}
	sum.DiscoveryResult = res
	return sum, nil
}
