package device

import (
	"net"
	"net/netip"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// ConnectionStatus is a device's connection state as the device listing
// (GET /v1/devices) reports it. The details endpoint has no such field.
type ConnectionStatus string

const (
	ConnectionAbsent              ConnectionStatus = ""
	ConnectionConnected           ConnectionStatus = "connected"
	ConnectionDisconnected        ConnectionStatus = "disconnected"
	ConnectionConnectedWithIssues ConnectionStatus = "connected_with_issues"
	ConnectionOfflineExpired      ConnectionStatus = "offline_expired"
	ConnectionActivating          ConnectionStatus = "activating"
	ConnectionUnknown             ConnectionStatus = "unknown"
	ConnectionOfflineDeepSleep    ConnectionStatus = "offline_deep_sleep"
	ConnectionPending             ConnectionStatus = "pending"
)

// ConnectionStatuses are the documented states, in the vendor's order.
var ConnectionStatuses = []ConnectionStatus{
	ConnectionConnected, ConnectionDisconnected, ConnectionConnectedWithIssues, ConnectionOfflineExpired,
	ConnectionActivating, ConnectionUnknown, ConnectionOfflineDeepSleep, ConnectionPending,
}

// Known reports whether s is absent or one of the documented states.
func (s ConnectionStatus) Known() bool {
	if s == ConnectionAbsent {
		return true
	}
	for _, k := range ConnectionStatuses {
		if s == k {
			return true
		}
	}
	return false
}

// Listed is one item of the device listing, validated and normalised. It
// says what the listing knows about a device; it never replaces the
// details (the listing has no activation state, and its IP and the
// details' IP are not documented to agree).
type Listed struct {
	// ID is the item's "id" as sent (a DEVICE-type ID in practice).
	ID string
	// CallingDeviceID is "callingDeviceId" as sent, "" when absent: Webex
	// sends it only for devices that have a CALLING_DEVICE-type ID, and the
	// schema does not promise it at all.
	CallingDeviceID string
	// Key is the device's identity (the UUID inside DetailsID), by which
	// it matches a tracked device; "" when DetailsID is not a device ID.
	Key deviceid.Key

	IP               netip.Addr       // invalid (zero) when absent or unparseable
	MAC              net.HardwareAddr // nil when absent or unparseable; phones send 12 hex digits, rooms colons
	ConnectionStatus ConnectionStatus // as received (lower-cased) even when not documented
	Software         string
	Serial           string
	LastSeen         time.Time // zero when absent or unparseable
	DisplayName      string
	Product          string
	Type             string // phone, roomdesk, accessory, webexgo, unknown
	PersonID         string
	WorkspaceID      string
	LocationID       string
	OrgID            string

	// Warnings name values that were present but unusable, as for Device.
	Warnings []string
}

// DetailsID is the ID to ask Get Device Details with: callingDeviceId
// when the item has one, else id (the endpoint takes either type).
func (l Listed) DetailsID() string {
	if l.CallingDeviceID != "" {
		return l.CallingDeviceID
	}
	return l.ID
}
