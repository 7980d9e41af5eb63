// Package device holds the domain types shared by the Webex client and the
// store: a Webex Calling device's details, validated and normalised.
package device

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"
)

// ActivationState is a device's activation-code state. Webex only sets it for
// devices added with an activation code, so the empty value (absent) is
// common.
type ActivationState string

const (
	ActivationAbsent      ActivationState = ""
	ActivationActivating  ActivationState = "activating"
	ActivationActivated   ActivationState = "activated"
	ActivationDeactivated ActivationState = "deactivated"
)

// Known reports whether s is one of the states the vendor documents.
func (s ActivationState) Known() bool {
	switch s {
	case ActivationAbsent, ActivationActivating, ActivationActivated, ActivationDeactivated:
		return true
	}
	return false
}

// Device is one device's details as fetched from Get Webex Calling Device
// Details, already validated and normalised.
type Device struct {
	ID                    string
	Manufacturer          string
	ManagedBy             string
	Model                 string
	IP                    netip.Addr       // invalid (zero) when absent or unparseable
	MAC                   net.HardwareAddr // nil when absent or unparseable
	ActivationState       ActivationState
	Tags                  []string // from "description"
	UpgradeChannelEnabled *bool    // nil when absent or not a boolean
	OwnerSIPUserName      string
	OwnerLinePort         string
	OutboundProxy         string
	// Raw is the payload as received, kept so that values this client could
	// not interpret are still stored.
	Raw json.RawMessage
	// Warnings name the values that were present but unusable (an IP that is
	// not an IP, say). They are worth a log line, not a failure.
	Warnings []string
}

// ParseMAC accepts the forms Webex APIs use: 12 hex digits with no
// separators (this endpoint), or separated by ':', '-' or '.'.
func ParseMAC(s string) (net.HardwareAddr, bool) {
	var digits [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.':
			continue
		case n < len(digits) && isHex(c):
			digits[n] = c
			n++
		default:
			return nil, false
		}
	}
	if n != len(digits) {
		return nil, false
	}
	hw := make(net.HardwareAddr, 6)
	if _, err := hex.Decode(hw, digits[:]); err != nil {
		return nil, false
	}
	return hw, true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
