package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// wireString is a listing field documented as a string. Any other JSON
// value is kept (bounded) for a warning rather than failing the page: one
// odd item must not make a listing of 100,000 devices incomplete.
type wireString struct {
	s   string
	bad string // the raw value when it was not a string or null
}

func (w *wireString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &w.s)
	}
	if !bytes.Equal(b, []byte("null")) {
		w.bad = truncate(string(b), 40)
	}
	return nil
}

// wireListed is an item of GET /v1/devices. Unknown fields are ignored.
type wireListed struct {
	ID               wireString `json:"id"`
	CallingDeviceID  wireString `json:"callingDeviceId"`
	IP               wireString `json:"ip"`
	MAC              wireString `json:"mac"`
	ConnectionStatus wireString `json:"connectionStatus"`
	Software         wireString `json:"software"`
	Serial           wireString `json:"serial"`
	LastSeen         wireString `json:"lastSeen"`
	DisplayName      wireString `json:"displayName"`
	Product          wireString `json:"product"`
	Type             wireString `json:"type"`
	PersonID         wireString `json:"personId"`
	WorkspaceID      wireString `json:"workspaceId"`
	LocationID       wireString `json:"locationId"`
	OrgID            wireString `json:"orgId"`
}

// normalise turns an item into a device.Listed; unusable values become
// warnings and zero values.
func (w wireListed) normalise() device.Listed {
	var warns []string
	str := func(name string, v wireString) string {
		if v.bad != "" {
			warns = append(warns, fmt.Sprintf("%s %s is not a string; ignored", name, v.bad))
		}
		if strings.IndexByte(v.s, 0) >= 0 {
			// PostgreSQL text cannot hold NUL.
			warns = append(warns, name+" contains NUL characters; they were replaced by U+FFFD")
			return strings.ReplaceAll(v.s, "\x00", "\uFFFD")
		}
		return v.s
	}
	l := device.Listed{
		ID:              strings.TrimSpace(str("id", w.ID)),
		CallingDeviceID: strings.TrimSpace(str("callingDeviceId", w.CallingDeviceID)),
		Software:        strings.TrimSpace(str("software", w.Software)),
		Serial:          strings.TrimSpace(str("serial", w.Serial)),
		DisplayName:     str("displayName", w.DisplayName),
		Product:         strings.TrimSpace(str("product", w.Product)),
		Type:            strings.TrimSpace(str("type", w.Type)),
		PersonID:        strings.TrimSpace(str("personId", w.PersonID)),
		WorkspaceID:     strings.TrimSpace(str("workspaceId", w.WorkspaceID)),
		LocationID:      strings.TrimSpace(str("locationId", w.LocationID)),
		OrgID:           strings.TrimSpace(str("orgId", w.OrgID)),
	}
	if ip := strings.TrimSpace(str("ip", w.IP)); ip != "" {
		if addr, ok := parseIP(ip); ok {
			l.IP = addr
		} else {
			warns = append(warns, fmt.Sprintf("ip %q is not an IP address; ignored", truncate(ip, 60)))
		}
	}
	if mac := strings.TrimSpace(str("mac", w.MAC)); mac != "" {
		if hw, ok := device.ParseMAC(mac); ok {
			l.MAC = hw
		} else {
			warns = append(warns, fmt.Sprintf("mac %q is not a MAC address; ignored", truncate(mac, 60)))
		}
	}
	cs := strings.ToLower(strings.TrimSpace(str("connectionStatus", w.ConnectionStatus)))
	l.ConnectionStatus = device.ConnectionStatus(cs)
	if !l.ConnectionStatus.Known() {
		warns = append(warns, fmt.Sprintf("connectionStatus %q is not a documented state; kept as received", truncate(cs, 40)))
	}
	if seen := strings.TrimSpace(str("lastSeen", w.LastSeen)); seen != "" {
		if t, err := time.Parse(time.RFC3339Nano, seen); err == nil {
			l.LastSeen = t.UTC()
		} else {
			warns = append(warns, fmt.Sprintf("lastSeen %q is not an RFC 3339 time; ignored", truncate(seen, 40)))
		}
	}
	switch k, err := deviceid.KeyOf(l.DetailsID()); {
	case l.DetailsID() == "":
		warns = append(warns, "the item has neither id nor callingDeviceId")
	case err != nil:
		warns = append(warns, fmt.Sprintf("device ID %q: %v", truncate(l.DetailsID(), 80), err))
	default:
		l.Key = k
		if l.CallingDeviceID != "" && l.ID != "" && !deviceid.Same(l.ID, l.CallingDeviceID) {
			warns = append(warns, "id and callingDeviceId name different devices; callingDeviceId is used")
		}
	}
	l.Warnings = warns
	return l
}

// parseIP reads an IP as PostgreSQL's inet will store it: IPv4-mapped
// addresses unmapped, zones dropped.
func parseIP(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}
