// Package deviceid decides whether a string is plausibly the Webex Calling
// device ID that Get Device Details takes, before it is stored. It owns the
// one validator that "devices add", "devices import" and "discover" share,
// and the reasons it gives for a rejection.
//
// A Webex ID is base64 (standard or URL alphabet, padded or not) of text of
// the form ciscospark://<region>/<TYPE>/<id>. A device ID has the TYPE
// DEVICE or CALLING_DEVICE; any other TYPE (PEOPLE, PLACE, LOCATION, ...) is
// a well-formed ID of something else, a common paste error worth naming.
// The ID itself stays opaque: it is stored and sent exactly as given.
package deviceid

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest ID accepted, in bytes; devices.device_id has the
// same limit.
const MaxLen = 1024

// Reason classifies a rejection.
type Reason string

const (
	ReasonEmpty      Reason = "empty"
	ReasonTooLong    Reason = "too long"
	ReasonWhitespace Reason = "whitespace or control character inside"
	ReasonMAC        Reason = "a MAC address, not a Webex ID"
	ReasonNotID      Reason = "not a Webex ID"
	ReasonWrongType  Reason = "wrong kind of Webex ID"
)

// Error is a rejection: why, and a detail for the person who pasted it.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

// ReasonOf returns the Reason of err, or "" when err is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ID is a validated device ID.
type ID struct {
	Raw     string // as given, and as stored and sent
	Decoded string // ciscospark://region/TYPE/id
	Region  string
	Type    string // DEVICE or CALLING_DEVICE (ORGANIZATION for ParseOrg)
	Local   string // the part after the TYPE
}

// Key identifies the device whatever the base64 spelling, so that the same
// ID pasted padded and unpadded counts as a duplicate.
func (id ID) Key() string { return id.Decoded }

// DeviceTypes are the TYPEs a device ID may carry.
var DeviceTypes = []string{"DEVICE", "CALLING_DEVICE"}

var (
	// ciscospark://<region>/<TYPE>/<id>. Regions seen: "us", "eu",
	// "urn:TEAM:us-east-2_a". The local part is a UUID for devices, but it is
	// opaque, so any printable text without a slash is accepted.
	decodedRE = regexp.MustCompile(`^ciscospark://([A-Za-z0-9:_.\-]+)/([A-Z][A-Z_]*)/([^/\s]+)$`)
	macRE     = regexp.MustCompile(`^(?:[0-9A-Fa-f]{12}|(?:[0-9A-Fa-f]{2}[:\-]){5}[0-9A-Fa-f]{2}|(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4})$`)
)

// Parse validates s and returns the ID, or an *Error saying why it is not a
// device ID. s must already be trimmed: whitespace anywhere is an error.
func Parse(s string) (ID, error) { return parse(s, DeviceTypes) }

// ParseOrg validates an organization ID (the orgId of partner admins) the
// same way: TYPE ORGANIZATION.
func ParseOrg(s string) (ID, error) { return parse(s, []string{"ORGANIZATION"}) }

func parse(s string, types []string) (ID, error) {
	switch {
	case s == "":
		return ID{}, &Error{Reason: ReasonEmpty}
	case len(s) > MaxLen:
		return ID{}, &Error{Reason: ReasonTooLong, Detail: fmt.Sprintf("%d bytes, at most %d", len(s), MaxLen)}
	}
	if !utf8.ValidString(s) {
		return ID{}, &Error{Reason: ReasonWhitespace, Detail: "invalid UTF-8"}
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return ID{}, &Error{Reason: ReasonWhitespace, Detail: fmt.Sprintf("%U", r)}
		}
	}
	if macRE.MatchString(s) {
		return ID{}, &Error{Reason: ReasonMAC}
	}
	raw, ok := decode(s)
	if !ok {
		return ID{}, &Error{Reason: ReasonNotID, Detail: "not base64"}
	}
	if !utf8.Valid(raw) {
		return ID{}, &Error{Reason: ReasonNotID, Detail: "does not decode to text"}
	}
	text := string(raw)
	m := decodedRE.FindStringSubmatch(text)
	if m == nil {
		return ID{}, &Error{Reason: ReasonNotID, Detail: "does not decode to ciscospark://<region>/<TYPE>/<id>"}
	}
	id := ID{Raw: s, Decoded: text, Region: m[1], Type: m[2], Local: m[3]}
	for _, t := range types {
		if id.Type == t {
			return id, nil
		}
	}
	return ID{}, &Error{Reason: ReasonWrongType, Detail: "it is a " + id.Type + " ID (" + text + "), want " + strings.Join(types, " or ")}
}

// decode accepts the four spellings of base64 Webex IDs appear in: the
// standard or URL alphabet, padded or not. Strict decoding rejects
// non-canonical trailing bits, so one ID has one decoded form per spelling.
func decode(s string) ([]byte, bool) {
	unpadded := strings.TrimRight(s, "=")
	if len(s)-len(unpadded) > 2 {
		return nil, false
	}
	padded := len(unpadded) != len(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		e := enc.Strict()
		in := s
		if !padded {
			e = enc.WithPadding(base64.NoPadding).Strict()
		}
		if b, err := e.DecodeString(in); err == nil {
			return b, true
		}
	}
	return nil, false
}
