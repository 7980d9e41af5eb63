package webexsim

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
)

// Bodies are appended by hand, not by encoding/json: field order must match the
// vendor page, upgradeChannelEnabled switches type per device, and the hot path
// must not pay for reflection at tens of thousands of requests per second.

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7F {
			enc, _ := json.Marshal(s) // rare: only hand-edited devices get here
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendDetails writes d in the Get Device Details response shape.
func appendDetails(b []byte, d *Device) []byte {
	b = append(b, `{"managedBy":`...)
	b = appendString(b, d.ManagedBy)
	b = append(b, `,"owner":{"sipUserName":`...)
	b = appendString(b, d.OwnerSIPUserName)
	b = append(b, `,"linePort":`...)
	b = appendString(b, d.OwnerLinePort)
	b = append(b, '}')
	if d.OutboundProxy != "" {
		b = append(b, `,"proxy":{"outboundProxy":`...)
		b = appendString(b, d.OutboundProxy)
		b = append(b, '}')
	}
	b = append(b, `,"manufacturer":`...)
	b = appendString(b, d.Manufacturer)
	b = append(b, `,"id":`...)
	b = appendString(b, d.answerID())
	if !d.IPOmitted {
		b = append(b, `,"ip":`...)
		b = appendString(b, d.IP)
	}
	b = append(b, `,"mac":`...)
	b = appendString(b, d.MAC)
	b = append(b, `,"model":`...)
	b = appendString(b, d.Model)
	if d.ActivationState != "" {
		b = append(b, `,"activationState":`...)
		b = appendString(b, d.ActivationState)
	}
	b = append(b, `,"description":`...)
	b = appendStrings(b, d.Tags)
	b = append(b, `,"upgradeChannelEnabled":`...)
	if d.UpgradeAsString {
		b = append(b, '"')
		b = strconv.AppendBool(b, d.UpgradeChannelEnabled)
		b = append(b, '"')
	} else {
		b = strconv.AppendBool(b, d.UpgradeChannelEnabled)
	}
	return append(b, '}')
}

// colonMAC turns 11223344AAFF into 11:22:33:44:AA:FF, the spelling /v1/devices uses.
func colonMAC(mac string) string {
	if len(mac) != 12 {
		return mac
	}
	var sb strings.Builder
	sb.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(mac[i : i+2])
	}
	return sb.String()
}

// appendListItem writes d as a /v1/devices item: the fields a client reads,
// plus a few for realism. Phones send their MAC as 12 hex digits, room
// devices with colons, as the real listing does.
func appendListItem(b []byte, d *Device, orgID string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, d.ListID)
	b = append(b, `,"displayName":`...)
	b = appendString(b, product(d.Model)+" ("+d.OwnerSIPUserName+")")
	if d.WorkspaceID != "" {
		b = append(b, `,"workspaceId":`...)
		b = appendString(b, d.WorkspaceID)
	}
	if d.PersonID != "" {
		b = append(b, `,"personId":`...)
		b = appendString(b, d.PersonID)
	}
	b = append(b, `,"orgId":`...)
	b = appendString(b, orgID)
	b = append(b, `,"locationId":`...)
	b = appendString(b, d.LocationID)
	b = append(b, `,"capabilities":["xapi"],"permissions":["xapi:readonly"],"product":`...)
	b = appendString(b, product(d.Model))
	b = append(b, `,"type":`...)
	b = appendString(b, d.Type)
	b = append(b, `,"tags":`...)
	b = appendStrings(b, d.Tags)
	if d.IP != "" {
		b = append(b, `,"ip":`...)
		b = appendString(b, d.IP)
	}
	b = append(b, `,"mac":`...)
	if d.Type == "phone" {
		b = appendString(b, d.MAC)
	} else {
		b = appendString(b, colonMAC(d.MAC))
	}
	b = append(b, `,"serial":`...)
	b = appendString(b, d.Serial)
	b = append(b, `,"software":`...)
	b = appendString(b, d.Software)
	b = append(b, `,"upgradeChannel":"Stable","connectionStatus":`...)
	b = appendString(b, d.ConnectionStatus)
	b = append(b, `,"created":"`...)
	b = d.Created.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","lastSeen":"`...)
	b = d.LastSeen.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, '"')
	if !d.CallingIDOmitted {
		b = append(b, `,"callingDeviceId":`...)
		b = appendString(b, d.ID)
	}
	return append(b, '}')
}

// appendError writes the Webex error body.
func appendError(b []byte, msg, trackingID string) []byte {
	b = append(b, `{"message":`...)
	b = appendString(b, msg)
	b = append(b, `,"errors":[{"description":`...)
	b = appendString(b, msg)
	b = append(b, `}],"trackingId":`...)
	b = appendString(b, trackingID)
	return append(b, '}')
}

// oversizeTags pads a body past 2 MiB with plausible tags, built once because
// only the oversize fault needs it.
var oversizeTags = sync.OnceValue(func() []string {
	const n = 45_000 // x ~50 bytes each: about 2.2 MiB
	tags := make([]string, n)
	for i := range tags {
		tags[i] = "bulk-imported-tag-" + strconv.Itoa(i) + "-padding-padding-padding"
	}
	return tags
})

// trackingID mimics Webex's ROUTER_<uuid> tracking IDs, unique per request.
func trackingID(salt, seq uint64) string {
	var u [16]byte
	r := rng{s: salt ^ seq*0x9E3779B97F4A7C15}
	a, c := r.next(), r.next()
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(c >> (8 * i))
	}
	return "ROUTER_" + formatUUID(u)
}
