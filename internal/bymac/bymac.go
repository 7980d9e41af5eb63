// Package bymac finds the Webex Calling device that has a MAC address,
// through the device listing's mac filter (GET /v1/devices?mac=, scope
// spark-admin:devices_read): telephony admins know their phones by MAC, the
// job tracks them by device ID. It speaks to Webex through fetch and knows
// nothing of SQL.
package bymac

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
)

// ErrNoMatch is returned (wrapped) when no device of the org has the MAC.
var ErrNoMatch = errors.New("no device in Webex has this MAC")

// AmbiguousError is a MAC that several listed devices share: the caller
// must choose by ID.
type AmbiguousError struct {
	Matches []device.Listed
}

func (e *AmbiguousError) Error() string {
	var ids []string
	for _, m := range e.Matches {
		ids = append(ids, describe(m))
	}
	return fmt.Sprintf("%d devices have this MAC: %s; add the one you mean by its ID", len(e.Matches), strings.Join(ids, "; "))
}

// Match is the device found for a MAC.
type Match struct {
	MAC    net.HardwareAddr
	ID     string // the ID to track: callingDeviceId, or id when the item has none
	Listed device.Listed
}

// Describe is the device as a person would recognise it.
func (m Match) Describe() string { return describe(m.Listed) }

func describe(l device.Listed) string {
	s := l.DetailsID()
	var about []string
	for _, v := range []string{l.DisplayName, l.Product} {
		if v != "" {
			about = append(about, v)
		}
	}
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s
}

// Parse reads a MAC in any common spelling (00:11:22:AA:BB:CC,
// 00-11-22-aa-bb-cc, 0011.22aa.bbcc, 001122AABBCC).
func Parse(s string) (net.HardwareAddr, error) {
	hw, ok := device.ParseMAC(strings.TrimSpace(s))
	if !ok {
		return nil, fmt.Errorf("%q is not a MAC address (12 hex digits, with or without ':', '-' or '.')", s)
	}
	return hw, nil
}

// Query is the MAC as the listing's filter takes it: 12 upper-case hex
// digits, no separators.
func Query(mac net.HardwareAddr) string { return strings.ToUpper(hex.EncodeToString(mac)) }

// Find lists the devices with mac (of orgID, for a partner admin; "" for
// the token's org) and returns the one found. The listing's answer is
// checked item by item, so that a server that ignored the filter cannot
// make another device match.
func Find(ctx context.Context, client *fetch.Client, orgID string, mac net.HardwareAddr) (Match, error) {
	listing, err := client.ListDevices(ctx, fetch.ListOptions{OrgID: orgID, MAC: Query(mac), PageSize: 100})
	if err != nil {
		return Match{}, err
	}
	var found []device.Listed
	for _, l := range listing.Devices {
		if bytes.Equal(l.MAC, mac) {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 0:
		return Match{}, ErrNoMatch
	case 1:
	default:
		return Match{}, &AmbiguousError{Matches: found}
	}
	id := found[0].DetailsID()
	if _, err := deviceid.Parse(id); err != nil {
		return Match{}, fmt.Errorf("the device with this MAC has no Webex Calling device ID (listed as %s): %w", describe(found[0]), err)
	}
	return Match{MAC: mac, ID: id, Listed: found[0]}, nil
}
