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

// Key is a device's identity: the lower-case UUID inside its ID (or, for an
// ID whose local part is not a UUID, that part verbatim). Two IDs name the
// same device exactly when their keys are equal, whatever their alphabet,
// padding, TYPE (DEVICE or CALLING_DEVICE) or region.
type Key string

// Key identifies the device whatever the spelling of its ID, so that the
// same device pasted padded and unpadded, or as its DEVICE and its
// CALLING_DEVICE ID, counts as a duplicate.
func (id ID) Key() Key {
	if u, ok := id.UUID(); ok {
		return Key(u)
	}
	return Key(id.Local)
}

// UUID returns the UUID inside the ID in canonical form (lower case,
// 8-4-4-4-12), and false when the local part is not a UUID.
func (id ID) UUID() (string, bool) { return canonicalUUID(id.Local) }

// UUID validates s as a device ID and returns the UUID inside it in
// canonical form (lower case, 8-4-4-4-12). The error is an *Error: the
// reason Parse gives, or ReasonNotID when the ID does not hold a UUID.
func UUID(s string) (string, error) {
	id, err := Parse(s)
	if err != nil {
		return "", err
	}
	u, ok := id.UUID()
	if !ok {
		return "", &Error{Reason: ReasonNotID, Detail: "the ID (" + id.Decoded + ") does not hold a UUID"}
	}
	return u, nil
}

// KeyOf validates s as a device ID and returns its Key.
func KeyOf(s string) (Key, error) {
	id, err := Parse(s)
	if err != nil {
		return "", err
	}
	return id.Key(), nil
}

// Same reports whether a and b are both device IDs and name the same
// device. Identical strings are the same device even when they are not
// parseable IDs: the ID is opaque, and the API may use spellings this
// package does not know.
func Same(a, b string) bool {
	if a == b {
		return a != ""
	}
	ka, err := KeyOf(a)
	if err != nil {
		return false
	}
	kb, err := KeyOf(b)
	return err == nil && ka == kb
}

// canonicalUUID accepts 8-4-4-4-12 hex digits in either case.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", false
		}
	}
	return string(b), true
}

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
