package device_test

import (
	"encoding/base64"
	"net"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

func TestParseLookup(t *testing.T) {
	t.Parallel()
	const uuid = "738d43b0-3fc5-4d1e-9a0b-2c6f1e8d7a55"
	calling := base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/" + uuid))
	upperDevice := base64.RawURLEncoding.EncodeToString([]byte("ciscospark://us/DEVICE/738D43B0-3FC5-4D1E-9A0B-2C6F1E8D7A55"))
	people := base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/" + uuid))
	mac := net.HardwareAddr{0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc}
	// want leaves out Raw, ID, IDErr and Spellings, checked apart.
	tests := []struct {
		name   string
		in     string
		want   device.Lookup
		isID   bool
		reason deviceid.Reason // of IDErr; "" when the text is an ID
	}{
		{name: "calling device ID", in: calling, want: device.Lookup{Key: uuid}, isID: true},
		{name: "device ID, URL alphabet, unpadded, upper-case UUID", in: upperDevice, want: device.Lookup{Key: uuid}, isID: true},
		{name: "UUID", in: uuid, want: device.Lookup{Key: uuid}, reason: deviceid.ReasonNotID},
		{name: "UUID, upper case, spaces around", in: "  738D43B0-3FC5-4D1E-9A0B-2C6F1E8D7A55\n", want: device.Lookup{Key: uuid}, reason: deviceid.ReasonNotID},
		{name: "UUID without dashes", in: "738d43b03fc54d1e9a0b2c6f1e8d7a55", want: device.Lookup{Key: uuid}, reason: deviceid.ReasonNotID},
		{name: "MAC, colons", in: "00:11:22:AA:BB:CC", want: device.Lookup{MAC: mac}, reason: deviceid.ReasonMAC},
		{name: "MAC, dashes, lower case", in: "00-11-22-aa-bb-cc", want: device.Lookup{MAC: mac}, reason: deviceid.ReasonMAC},
		{name: "MAC, Cisco dots", in: "0011.22aa.bbcc", want: device.Lookup{MAC: mac}, reason: deviceid.ReasonMAC},
		{name: "MAC, bare", in: "001122AABBCC", want: device.Lookup{MAC: mac}, reason: deviceid.ReasonMAC},
		{name: "short ID as a table prints it", in: "738D43B0-3FC5…", want: device.Lookup{Prefix: "738d43b0-3fc5"}, reason: deviceid.ReasonNotID},
		{name: "short ID typed: not a MAC, though 12 hex digits", in: "738d43b0-3fc5", want: device.Lookup{Prefix: "738d43b0-3fc5"}, reason: deviceid.ReasonNotID},
		{name: "short ID with three dots", in: "738d43b0-3f...", want: device.Lookup{Prefix: "738d43b0-3f"}, reason: deviceid.ReasonNotID},
		{name: "four hex digits", in: "738d", want: device.Lookup{Prefix: "738d"}, reason: deviceid.ReasonNotID},
		{name: "three hex digits: too short for a prefix", in: "738", reason: deviceid.ReasonNotID},
		{name: "dash out of place", in: "738d4-3b0", reason: deviceid.ReasonNotID},
		{name: "people ID", in: people, reason: deviceid.ReasonWrongType},
		{name: "a name: matched as stored only", in: "Lobby-Phone", reason: deviceid.ReasonNotID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := device.ParseLookup(tt.in)
			if err != nil {
				t.Fatalf("ParseLookup(%q): %v", tt.in, err)
			}
			if (got.ID != nil) != tt.isID || deviceid.ReasonOf(got.IDErr) != tt.reason {
				t.Errorf("ParseLookup(%q): ID %v, IDErr %v; want an ID %v, reason %q", tt.in, got.ID, got.IDErr, tt.isID, tt.reason)
			}
			if tt.isID != (len(got.Spellings) > 0) {
				t.Errorf("ParseLookup(%q): spellings %v", tt.in, got.Spellings)
			}
			if h := got.HistoryIDs(); h[0] != got.Raw || !slices.Contains(h, calling) && tt.isID {
				t.Errorf("ParseLookup(%q): history IDs %v lack the raw text or the stored spelling", tt.in, h)
			}
			rest := got
			rest.Raw, rest.ID, rest.IDErr, rest.Spellings = "", nil, nil, nil
			if diff := cmp.Diff(tt.want, rest); diff != "" {
				t.Errorf("ParseLookup(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseLookupRejectsWhatIsNoIdentifier(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "   ", "Lobby Phone", "a\x1bb", string(make([]byte, deviceid.MaxLen+1))} {
		if _, err := device.ParseLookup(in); err == nil {
			t.Errorf("ParseLookup(%q): no error", in)
		}
	}
}

// Every spelling of an ID is an ID of the same device.
func TestSpellingsNameTheSameDevice(t *testing.T) {
	t.Parallel()
	id, err := deviceid.Parse(base64.RawStdEncoding.EncodeToString([]byte("ciscospark://eu/DEVICE/738D43B0-3FC5-4D1E-9A0B-2C6F1E8D7A55")))
	if err != nil {
		t.Fatal(err)
	}
	sp := id.Spellings()
	// This text has no '+' or '/' in base64, so both alphabets spell it
	// alike: 2 TYPEs, 2 cases of the UUID, padded or not.
	if len(sp) != 8 || !slices.Contains(sp, id.Raw) {
		t.Fatalf("%d spellings, want 8 with the given one: %v", len(sp), sp)
	}
	lowerCalling := base64.StdEncoding.EncodeToString([]byte("ciscospark://eu/CALLING_DEVICE/738d43b0-3fc5-4d1e-9a0b-2c6f1e8d7a55"))
	if !slices.Contains(sp, lowerCalling) {
		t.Errorf("no %s among %v", lowerCalling, sp)
	}
	for _, s := range sp {
		if !deviceid.Same(s, id.Raw) {
			t.Errorf("%s is not the same device as %s", s, id.Raw)
		}
	}
}
