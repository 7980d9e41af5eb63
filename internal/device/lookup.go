package device

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// MinPrefix is the fewest hex digits of a UUID that a short ID may give:
// fewer would name a tenth of a small fleet.
const MinPrefix = 4

// Lookup is what a person holds to name a device, read into every form it
// may be: a device ID in any spelling, the UUID inside one, a MAC, or the
// short ID the report tables print (the UUID's start, "738d43b0-3fc5…").
// One text may be more than one form; the store tries each that is set.
type Lookup struct {
	Raw string // as given, trimmed: compared with the IDs as stored
	// ID is set when Raw is a device ID; IDErr says why it is not one, for
	// a message about a text that matched nothing.
	ID    *deviceid.ID
	IDErr error
	// Key is the device identity (devices.device_key) to match: from the
	// ID, or the bare UUID.
	Key deviceid.Key
	// Spellings are the ways the ID may have been recorded in the history
	// (either TYPE and alphabet, padded or not, the UUID in either case),
	// for a device no longer tracked; nil when Raw is no device ID.
	Spellings []string
	MAC       net.HardwareAddr // a MAC in any spelling
	Prefix    string           // the lower-case start of a UUID: a short ID
}

var (
	// A bare UUID, with its dashes or without.
	bareUUID = regexp.MustCompile(`^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$`)
	// The start of an 8-4-4-4-12 UUID, dashes in place: what a table prints
	// of an ID ("738d43b0-3fc5…").
	uuidPrefix = regexp.MustCompile(`^(?:[0-9a-f]{1,8}|[0-9a-f]{8}-(?:[0-9a-f]{0,4}|[0-9a-f]{4}-(?:[0-9a-f]{0,4}|[0-9a-f]{4}-(?:[0-9a-f]{0,4}|[0-9a-f]{4}-[0-9a-f]{0,11}))))$`)
)

// ParseLookup reads s into every form it may be. It fails only when s can
// be no identifier at all: empty, too long, or with whitespace or control
// characters inside (after trimming).
func ParseLookup(s string) (Lookup, error) {
	s = strings.TrimSpace(s)
	l := Lookup{Raw: s}
	id, err := deviceid.Parse(s)
	switch deviceid.ReasonOf(err) {
	case deviceid.ReasonEmpty, deviceid.ReasonTooLong, deviceid.ReasonWhitespace:
		// No identifier of any form.
		return l, err
	case "":
		l.ID = &id
		l.Key = id.Key()
		l.Spellings = id.Spellings()
		return l, nil
	}
	l.IDErr = err
	if bareUUID.MatchString(s) {
		u := strings.ToLower(strings.ReplaceAll(s, "-", ""))
		l.Key = deviceid.Key(u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:])
		return l, nil
	}
	// A short ID as the tables print it, ellipsis and all, or typed.
	short := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(s, "…"), "..."))
	if uuidPrefix.MatchString(short) && hexDigits(short) >= MinPrefix {
		l.Prefix = short
	}
	// A MAC in any spelling. The 13 characters of a short ID ("738d43b0-3fc5")
	// parse as one too, but no MAC is written in groups of 8 and 4 digits.
	if hw, ok := ParseMAC(s); ok && l.Prefix == "" {
		l.MAC = hw
	}
	return l, nil
}

func hexDigits(s string) int { return len(s) - strings.Count(s, "-") }

// HistoryIDs are the IDs under which a device no longer tracked may have
// left history: Raw, and every spelling of it when it is a device ID.
func (l Lookup) HistoryIDs() []string {
	out := []string{l.Raw}
	for _, s := range l.Spellings {
		if s != l.Raw {
			out = append(out, s)
		}
	}
	return out
}

// Forms says what a look-up of l tries, for a message about a text that
// matched nothing.
func (l Lookup) Forms() []string {
	out := []string{"a tracked or merged device ID as given"}
	switch {
	case l.ID != nil:
		out = append(out, fmt.Sprintf("UUID %s (the ID's: any spelling, DEVICE or CALLING_DEVICE, padded or not)", l.Key),
			fmt.Sprintf("the history of removed devices under the ID's %d spellings", len(l.HistoryIDs())))
	case l.Key != "":
		out = append(out, fmt.Sprintf("UUID %s", l.Key))
	default:
		out = append(out, "the history of removed devices under the ID as given")
	}
	if l.MAC != nil {
		out = append(out, fmt.Sprintf("MAC %s (the details' or the listing's)", l.MAC))
	}
	switch {
	case l.Prefix != "":
		out = append(out, fmt.Sprintf("a UUID starting %s (a short ID)", l.Prefix))
	case uuidPrefix.MatchString(strings.ToLower(l.Raw)):
		out = append(out, fmt.Sprintf("not as a short ID: that takes at least %d hex digits of the UUID", MinPrefix))
	}
	return out
}
