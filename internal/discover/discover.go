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

// Lister pages through the org's devices; *fetch.Client is one.
type Lister interface {
	EachListPage(ctx context.Context, opts fetch.ListOptions, fn func(fetch.ListPage) error) (fetch.ListStats, error)
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

// Rejected is a listed device ID (callingDeviceId, or id for an item
// without one) that is not a plausible device ID.
type Rejected struct {
	CallingDeviceID string
	Reason          string
}

// Summary is what a discovery found and did.
type Summary struct {
	DiscoveryID int64
	Pages       int
	Listed      int // items in the listing
	Calling     int // distinct valid device IDs (callingDeviceId, else id)
	Rejected    []Rejected
	store.DiscoveryResult
}

// Run lists the org's devices and applies the result. If the listing fails
// (a page that keeps failing, a next link to another host), the discovery
// is recorded as failed and the inventory is not touched.
//
// An item names its device by callingDeviceId or, when it has none (the
// API does not promise one), by id: Get Device Details takes either. Items
// match tracked devices by the UUID inside the ID (deviceid.Key), whatever
// the spelling or type on either side, so a tracked device is never added
// twice, nor reported unlisted (or pruned) because its item carries
// another spelling or lacks callingDeviceId.
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
	fail := func(counts store.DiscoveryCounts, err error) (Summary, error) {
		// FailDiscovery records the failure even when ctx ended: that is why
		// it failed.
		if ferr := st.FailDiscovery(ctx, d, counts, err.Error()); ferr != nil {
			log.LogAttrs(ctx, slog.LevelError, "recording the failed discovery failed", slog.String("error", ferr.Error()))
		}
		return sum, err
	}
	tracked, err := trackedByKey(ctx, st)
	if err != nil {
		return fail(store.DiscoveryCounts{}, fmt.Errorf("discovery %d changed nothing: %w", d.ID, err))
	}
	seen := map[deviceid.Key]bool{}
	var ids []string
	ls, err := l.EachListPage(ctx, fetch.ListOptions{OrgID: cfg.OrgID, Type: cfg.Type, PageSize: cfg.PageSize}, func(p fetch.ListPage) error {
		sum.Listed += len(p.Items)
		for _, item := range p.Items {
			raw := item.DetailsID()
			if raw == "" {
				continue // nothing to fetch it by
			}
			id, err := deviceid.Parse(raw)
			if err != nil {
				sum.Rejected = append(sum.Rejected, Rejected{CallingDeviceID: raw, Reason: err.Error()})
				log.LogAttrs(ctx, slog.LevelWarn, "listing returned a device ID that is not one",
					slog.String("calling_device_id", item.CallingDeviceID), slog.String("list_id", item.ID), slog.String("reason", err.Error()))
				continue
			}
			k := id.Key()
			if seen[k] {
				continue
			}
			seen[k] = true
			if t, ok := tracked[k]; ok {
				// The spellings the inventory knows it by (more than one
				// when it was added twice): all of them are listed.
				ids = append(ids, t...)
				continue
			}
			ids = append(ids, raw)
		}
		return nil
	})
	sum.Pages = ls.Pages
	if err != nil {
		return fail(store.DiscoveryCounts{}, fmt.Errorf("discovery %d changed nothing: %w", d.ID, err))
	}
	sum.Calling = len(seen)
	counts := store.DiscoveryCounts{Pages: sum.Pages, Listed: sum.Listed, Calling: sum.Calling, Rejected: len(sum.Rejected)}
	if ids == nil {
		ids = []string{}
	}
	if cfg.Prune && len(ids) == 0 {
		// An empty listing is far more often the wrong token, org or type
		// filter than an org without devices: never prune on it.
		return fail(counts, fmt.Errorf("discovery %d changed nothing: the listing has no calling devices, and --prune would remove every tracked device of the org", d.ID))
	}
	res, err := st.ApplyDiscovery(ctx, d, ids, counts)
	if err != nil {
		return fail(counts, err)
	}
	sum.DiscoveryResult = res
	return sum, nil
}

// trackedByKey maps every tracked device (of any org: a device tracked
// under another org counts as tracked) from its identity to the IDs it is
// stored under. An ID that does not parse is left out: no listed ID, which
// must parse, can name it.
func trackedByKey(ctx context.Context, st *store.Store) (map[deviceid.Key][]string, error) {
	devs, err := st.ListDevices(ctx, store.DeviceFilter{})
	if err != nil {
		return nil, err
	}
	out := make(map[deviceid.Key][]string, len(devs))
	for _, d := range devs {
		if k, err := deviceid.KeyOf(d.DeviceID); err == nil {
			out[k] = append(out[k], d.DeviceID)
		}
	}
	return out, nil
}
