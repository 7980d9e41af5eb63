package store

import (
	"context"
	"fmt"
	"net"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// MaxPrefixMatches is the most devices a short ID is matched with: a
// prefix that fits more is too short to name one, and listing a fleet
// helps no one.
const MaxPrefixMatches = 20

// DeviceMatch is a device that an identifier names.
type DeviceMatch struct {
	// DeviceID is the ID the device is tracked under, or, for a device no
	// longer tracked, the ID its history was recorded under.
	DeviceID string
	Tracked  bool // false: removed; its history remains
	// MatchedBy says how: "id", "merged id", "uuid", "mac", "listed mac",
	// "short id", or "history" (an ID only the history knows).
	MatchedBy          []string
	SyncStatus         *string // nil for a device no longer tracked
	DisplayName, Model *string
	MAC, ListedMAC     net.HardwareAddr
}

// FindDevices returns the devices that l names, by ID: none, one, or
// several (a short ID or a MAC that several devices share). more is true
// when a short ID fits more devices than MaxPrefixMatches, of which only
// the first MaxPrefixMatches are returned. When no tracked device matches,
// the history is searched for the ID in each of its spellings, so that a
// removed device's timeline is still found.
func (s *Store) FindDevices(ctx context.Context, l device.Lookup) (matches []DeviceMatch, more bool, err error) {
	arg := dbsqlc.FindDevicesParams{Raw: l.Raw, Mac: l.MAC, MaxPrefix: MaxPrefixMatches + 1}
	if l.Key != "" {
		k := string(l.Key)
		arg.DeviceKey = &k
	}
	if l.Prefix != "" {
		// Every key that starts with the prefix sorts (bytewise) from the
		// prefix to the prefix with its last byte one higher.
		to := l.Prefix[:len(l.Prefix)-1] + string(l.Prefix[len(l.Prefix)-1]+1)
		arg.KeyFrom, arg.KeyTo = &l.Prefix, &to
	}
	rows, err := s.q.FindDevices(ctx, arg)
	if err != nil {
		return nil, false, fmt.Errorf("find device %q: %w", l.Raw, err)
	}
	prefixed := 0
	for _, r := range rows {
		if len(r.MatchedBy) == 1 && r.MatchedBy[0] == "short id" {
			prefixed++
			if prefixed > MaxPrefixMatches {
				more = true
				continue
			}
		}
		matches = append(matches, DeviceMatch{DeviceID: r.DeviceID, Tracked: r.Tracked, MatchedBy: r.MatchedBy, SyncStatus: r.SyncStatus,
			DisplayName: r.DisplayName, Model: r.Model, MAC: r.Mac, ListedMAC: r.ListedMac})
	}
	if len(matches) > 0 {
		return matches, more, nil
	}
	hist, err := s.q.FindHistoryDevices(ctx, l.HistoryIDs())
	if err != nil {
		return nil, false, fmt.Errorf("find device %q in the history: %w", l.Raw, err)
	}
	if len(hist) > 0 {
		// Every ID found is a spelling of the one given: one device. Its
		// oldest spelling holds the start of its history.
		matches = append(matches, DeviceMatch{DeviceID: hist[0].DeviceID, MatchedBy: []string{"history"}})
	}
	return matches, false, nil
}
