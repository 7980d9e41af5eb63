package fetch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// MaxBodyBytes bounds a details response. A real one is well under 4 KiB.
const MaxBodyBytes = 1 << 20

type wireDevice struct {
	ID                    string          `json:"id"`
	Manufacturer          string          `json:"manufacturer"`
	ManagedBy             string          `json:"managedBy"`
	Model                 string          `json:"model"`
	IP                    string          `json:"ip"`
	MAC                   string          `json:"mac"`
	ActivationState       string          `json:"activationState"`
	Description           json.RawMessage `json:"description"`
	UpgradeChannelEnabled json.RawMessage `json:"upgradeChannelEnabled"`
	Owner                 *struct {
		SIPUserName string `json:"sipUserName"`
		LinePort    string `json:"linePort"`
	} `json:"owner"`
	Proxy *struct {
		OutboundProxy string `json:"outboundProxy"`
	} `json:"proxy"`
}

// DecodeDevice decodes a details payload for wantID. It fails only when the
// payload cannot describe that device at all: not a JSON object, fields of
// the wrong JSON type, or an id that names another device. An id that
// names the same device in another spelling (padding, alphabet, DEVICE or
// CALLING_DEVICE: see deviceid.Same) is that device: Webex does not promise
// to echo the requested spelling. The returned Device carries wantID, the
// ID the caller knows it by. Unusable optional values become warnings.
// Unknown fields are ignored.
func DecodeDevice(body []byte, wantID string) (device.Device, error) {
	var w wireDevice
	if err := json.Unmarshal(body, &w); err != nil {
		return device.Device{}, fmt.Errorf("decode device details: %w", err)
	}
	if !deviceid.Same(w.ID, wantID) {
		return device.Device{}, fmt.Errorf("response is for device %q, not the requested one", truncate(w.ID, 80))
	}
	stored := json.RawMessage(bytes.Clone(body))
	var warnings []string
	if bytes.Contains(body, []byte(`\u0000`)) {
		// PostgreSQL's text and jsonb cannot hold NUL; a NUL sent by the API
		// must not make the whole batch fail to store.
		raw, err := withoutNUL(body)
		if err != nil {
			return device.Device{}, fmt.Errorf("decode device details: %w", err)
		}
		stored = raw
		warnings = append(warnings, "payload contains NUL characters; they were replaced by U+FFFD")
		w = stripNUL(w)
	}
	d := device.Device{
		ID:              wantID,
		Manufacturer:    strings.TrimSpace(w.Manufacturer),
		ManagedBy:       strings.TrimSpace(w.ManagedBy),
		Model:           strings.TrimSpace(w.Model),
		ActivationState: device.ActivationState(strings.ToLower(strings.TrimSpace(w.ActivationState))),
		Raw:             stored,
		Warnings:        warnings,
	}

	if w.Owner != nil {
		d.OwnerSIPUserName = w.Owner.SIPUserName
		d.OwnerLinePort = w.Owner.LinePort
	}
	if w.Proxy != nil {
		d.OutboundProxy = w.Proxy.OutboundProxy
	}
	if !d.ActivationState.Known() {
		d.Warnings = append(d.Warnings, fmt.Sprintf("activationState %q is not a documented state; stored as received", truncate(w.ActivationState, 40)))
	}
	if ip := strings.TrimSpace(w.IP); ip != "" {
		if addr, ok := parseIP(ip); ok {
			d.IP = addr
		} else {
			d.Warnings = append(d.Warnings, fmt.Sprintf("ip %q is not an IP address; stored as NULL", truncate(w.IP, 60)))
		}
	}
	if mac := strings.TrimSpace(w.MAC); mac != "" {
		if hw, ok := device.ParseMAC(mac); ok {
			d.MAC = hw
		} else {
			d.Warnings = append(d.Warnings, fmt.Sprintf("mac %q is not a MAC address; stored as NULL", truncate(w.MAC, 60)))
		}
	}
	tags, err := decodeTags(w.Description)
	if err != nil {
		d.Warnings = append(d.Warnings, err.Error())
	}
	d.Tags = tags
	b, err := decodeFlexBool(w.UpgradeChannelEnabled)
	if err != nil {
		d.Warnings = append(d.Warnings, err.Error())
	}
	d.UpgradeChannelEnabled = b
	return d, nil
}

// decodeFlexBool accepts a JSON boolean or the strings "true"/"false": the
// vendor's own example sends the string.
func decodeFlexBool(raw json.RawMessage) (*bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return &b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			b = true
			return &b, nil
		case "false":
			return &b, nil
		}
	}
	return nil, fmt.Errorf("upgradeChannelEnabled %s is not a boolean; stored as NULL", truncate(string(raw), 40))
}

// decodeTags reads "description": documented as an array of strings; a
// single comma-separated string is accepted too.
func decodeTags(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var tags []string
	if err := json.Unmarshal(raw, &tags); err == nil {
		return tags, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		return tags, nil
	}
	return nil, fmt.Errorf("description %s is not a list of tags; stored as NULL", truncate(string(raw), 40))
}

// truncate shortens s for a message without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// withoutNUL re-encodes a JSON document with every NUL in its strings
// replaced by U+FFFD.
func withoutNUL(body []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(replaceNUL(v))
}

func replaceNUL(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i := range x {
			x[i] = replaceNUL(x[i])
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[strings.ReplaceAll(k, "\x00", "\uFFFD")] = replaceNUL(e)
		}
		return m
	}
	return v
}

func stripNUL(w wireDevice) wireDevice {
	c := func(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }
	w.ID = c(w.ID)
	w.Manufacturer, w.ManagedBy, w.Model = c(w.Manufacturer), c(w.ManagedBy), c(w.Model)
	w.IP, w.MAC, w.ActivationState = c(w.IP), c(w.MAC), c(w.ActivationState)
	if w.Owner != nil {
		w.Owner.SIPUserName, w.Owner.LinePort = c(w.Owner.SIPUserName), c(w.Owner.LinePort)
	}
	if w.Proxy != nil {
		w.Proxy.OutboundProxy = c(w.Proxy.OutboundProxy)
	}
	if len(w.Description) > 0 {
		w.Description = bytes.ReplaceAll(w.Description, []byte(`\u0000`), []byte(`\ufffd`))
	}
	return w
}
