package deviceid_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

const uuid = "6c2a1f4e-9d3b-4f1a-8e7c-2b5d0a9f3e11"

func std(s string) string    { return base64.StdEncoding.EncodeToString([]byte(s)) }
func rawStd(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
func rawURL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
func url(s string) string    { return base64.URLEncoding.EncodeToString([]byte(s)) }

func TestParse(t *testing.T) {
	t.Parallel()
	calling := "ciscospark://us/CALLING_DEVICE/" + uuid
	// The decoded text's length decides whether base64 pads, and whether the
	// URL alphabet differs: this one (with "?>" in it) exercises both.
	urlish := "ciscospark://urn:TEAM:us-east-2_a/DEVICE/??>>" + uuid
	tests := []struct {
		name   string
		in     string
		want   deviceid.ID
		reason deviceid.Reason
	}{
		{name: "calling device, standard padded", in: std(calling),
			want: deviceid.ID{Raw: std(calling), Decoded: calling, Region: "us", Type: "CALLING_DEVICE", Local: uuid}},
		{name: "calling device, unpadded", in: rawStd(calling),
			want: deviceid.ID{Raw: rawStd(calling), Decoded: calling, Region: "us", Type: "CALLING_DEVICE", Local: uuid}},
		{name: "device, URL alphabet, padded", in: url(urlish),
			want: deviceid.ID{Raw: url(urlish), Decoded: urlish, Region: "urn:TEAM:us-east-2_a", Type: "DEVICE", Local: "??>>" + uuid}},
		{name: "device, URL alphabet, unpadded", in: rawURL(urlish),
			want: deviceid.ID{Raw: rawURL(urlish), Decoded: urlish, Region: "urn:TEAM:us-east-2_a", Type: "DEVICE", Local: "??>>" + uuid}},
		{name: "device, standard alphabet of the same", in: std(urlish),
			want: deviceid.ID{Raw: std(urlish), Decoded: urlish, Region: "urn:TEAM:us-east-2_a", Type: "DEVICE", Local: "??>>" + uuid}},
		{name: "empty", in: "", reason: deviceid.ReasonEmpty},
		{name: "too long", in: strings.Repeat("A", deviceid.MaxLen+1), reason: deviceid.ReasonTooLong},
		{name: "space inside", in: std(calling)[:10] + " " + std(calling)[10:], reason: deviceid.ReasonWhitespace},
		{name: "tab inside", in: std(calling)[:10] + "\t" + std(calling)[10:], reason: deviceid.ReasonWhitespace},
		{name: "NUL inside", in: std(calling)[:10] + "\x00" + std(calling)[10:], reason: deviceid.ReasonWhitespace},
		{name: "no-break space inside", in: std(calling)[:10] + "\u00a0" + std(calling)[10:], reason: deviceid.ReasonWhitespace},
		{name: "invalid UTF-8", in: std(calling) + "\xff", reason: deviceid.ReasonWhitespace},
		{name: "trailing newline", in: std(calling) + "\n", reason: deviceid.ReasonWhitespace},
		{name: "people ID", in: std("ciscospark://us/PEOPLE/" + uuid), reason: deviceid.ReasonWrongType},
		{name: "place ID", in: rawStd("ciscospark://us/PLACE/" + uuid), reason: deviceid.ReasonWrongType},
		{name: "location ID", in: std("ciscospark://us/LOCATION/" + uuid), reason: deviceid.ReasonWrongType},
		{name: "MAC, bare", in: "11223344AAFF", reason: deviceid.ReasonMAC},
		{name: "MAC, colons", in: "11:22:33:44:aa:ff", reason: deviceid.ReasonMAC},
		{name: "MAC, dashes", in: "11-22-33-44-AA-FF", reason: deviceid.ReasonMAC},
		{name: "MAC, Cisco dots", in: "1122.3344.aaff", reason: deviceid.ReasonMAC},
		{name: "a name", in: "Lobby-Phone", reason: deviceid.ReasonNotID},
		{name: "a UUID alone", in: uuid, reason: deviceid.ReasonNotID},
		{name: "decoded text, not base64", in: calling, reason: deviceid.ReasonNotID},
		{name: "base64 of something else", in: std("hello, world"), reason: deviceid.ReasonNotID},
		{name: "base64 of binary", in: base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0x00, 0x01}), reason: deviceid.ReasonNotID},
		{name: "wrong scheme", in: std("https://us/DEVICE/" + uuid), reason: deviceid.ReasonNotID},
		{name: "no local part", in: std("ciscospark://us/DEVICE/"), reason: deviceid.ReasonNotID},
		{name: "extra segment", in: std("ciscospark://us/DEVICE/" + uuid + "/x"), reason: deviceid.ReasonNotID},
		{name: "lower-case type", in: std("ciscospark://us/device/" + uuid), reason: deviceid.ReasonNotID},
		{name: "too much padding", in: rawStd(calling) + "===", reason: deviceid.ReasonNotID},
		{name: "mixed alphabets", in: strings.Replace(url(urlish), "_", "/", 1)[:8] + "-" + url(urlish)[9:], reason: deviceid.ReasonNotID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := deviceid.Parse(tt.in)
			if tt.reason != "" {
				if r := deviceid.ReasonOf(err); r != tt.reason {
					t.Fatalf("Parse(%q) = %+v, %v; want reason %q", tt.in, got, err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestWrongTypeNamesTheType(t *testing.T) {
	t.Parallel()
	_, err := deviceid.Parse(std("ciscospark://us/PEOPLE/" + uuid))
	if err == nil || !strings.Contains(err.Error(), "PEOPLE") {
		t.Errorf("err = %v, want it to name PEOPLE", err)
	}
}

func TestParseOrg(t *testing.T) {
	t.Parallel()
	org := std("ciscospark://us/ORGANIZATION/" + uuid)
	if _, err := deviceid.ParseOrg(org); err != nil {
		t.Errorf("ParseOrg(org): %v", err)
	}
	if _, err := deviceid.ParseOrg(std("ciscospark://us/DEVICE/" + uuid)); deviceid.ReasonOf(err) != deviceid.ReasonWrongType {
		t.Errorf("ParseOrg(device) = %v, want reason %q", err, deviceid.ReasonWrongType)
	}
	if _, err := deviceid.Parse(org); deviceid.ReasonOf(err) != deviceid.ReasonWrongType {
		t.Errorf("Parse(org) = %v, want reason %q", err, deviceid.ReasonWrongType)
	}
}

func TestKeyIgnoresSpelling(t *testing.T) {
	t.Parallel()
	upper := strings.ToUpper(uuid)
	// Every spelling of one device: both TYPEs, both alphabets, padded or
	// not, another region, the UUID in either case. (The text of a UUID ID
	// never encodes to '+' or '/', so its two alphabets coincide; the
	// table below covers the alphabets with a local part that does.)
	var spellings []string
	for _, text := range []string{
		"ciscospark://us/DEVICE/" + uuid,
		"ciscospark://us/CALLING_DEVICE/" + uuid,
		"ciscospark://us/CALLING_DEVICE/" + upper,
		"ciscospark://eu/DEVICE/" + upper,
	} {
		spellings = append(spellings, std(text), rawStd(text), url(text), rawURL(text))
	}
	for _, s := range spellings {
		got, err := deviceid.UUID(s)
		if err != nil {
			t.Errorf("UUID(%q): %v", s, err)
			continue
		}
		if got != uuid {
			t.Errorf("UUID(%q) = %q, want %q", s, got, uuid)
		}
		k, err := deviceid.KeyOf(s)
		if err != nil || k != deviceid.Key(uuid) {
			t.Errorf("KeyOf(%q) = %q, %v; want %q", s, k, err, uuid)
		}
		if !deviceid.Same(spellings[0], s) {
			t.Errorf("Same(%q, %q) = false, want true", spellings[0], s)
		}
	}
	if n := len(uniq(spellings)); n != 8 {
		t.Fatalf("only %d distinct spellings: the test does not cover what it says", n)
	}

	other := std("ciscospark://us/CALLING_DEVICE/6c2a1f4e-9d3b-4f1a-8e7c-2b5d0a9f3e12")
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"another device", spellings[0], other, false},
		{"identical unparseable strings", "opaque-1", "opaque-1", true},
		{"unparseable and an ID", "opaque-1", spellings[0], false},
		{"empty", "", "", false},
		{"a person with the same UUID", std("ciscospark://us/PEOPLE/" + uuid), spellings[0], false},
		{"non-UUID local parts compare verbatim", std("ciscospark://us/DEVICE/abc"), rawURL("ciscospark://us/CALLING_DEVICE/abc"), true},
		{"URL and standard alphabets", url("ciscospark://us/DEVICE/??>>"), std("ciscospark://us/CALLING_DEVICE/??>>"), true},
		{"non-UUID local parts keep their case", std("ciscospark://us/DEVICE/abc"), std("ciscospark://us/DEVICE/ABC"), false},
	}
	for _, tt := range tests {
		if got := deviceid.Same(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Same(%q, %q) = %v, want %v", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestUUIDRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		reason deviceid.Reason
	}{
		{"not an ID", "Lobby-Phone", deviceid.ReasonNotID},
		{"a person", std("ciscospark://us/PEOPLE/" + uuid), deviceid.ReasonWrongType},
		{"local part not a UUID", std("ciscospark://us/DEVICE/abc"), deviceid.ReasonNotID},
		{"UUID without hyphens", std("ciscospark://us/DEVICE/" + strings.ReplaceAll(uuid, "-", "")), deviceid.ReasonNotID},
		{"UUID with a non-hex digit", std("ciscospark://us/DEVICE/" + "g" + uuid[1:]), deviceid.ReasonNotID},
	}
	for _, tt := range tests {
		if got, err := deviceid.UUID(tt.in); deviceid.ReasonOf(err) != tt.reason {
			t.Errorf("%s: UUID(%q) = %q, %v; want reason %q", tt.name, tt.in, got, err, tt.reason)
		}
	}
}

func uniq(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// FuzzParse checks the invariants: an accepted ID is short, has no
// whitespace, decodes to a device ID that re-encodes to itself in one of the
// four spellings; anything else is rejected with a known reason.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		std("ciscospark://us/CALLING_DEVICE/" + uuid), rawURL("ciscospark://eu/DEVICE/x"),
		std("ciscospark://us/PEOPLE/" + uuid), "11223344AAFF", "", "a b", "====",
	} {
		f.Add(s)
	}
	known := map[deviceid.Reason]bool{
		deviceid.ReasonEmpty: true, deviceid.ReasonTooLong: true, deviceid.ReasonWhitespace: true,
		deviceid.ReasonMAC: true, deviceid.ReasonNotID: true, deviceid.ReasonWrongType: true,
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := deviceid.Parse(s)
		if err != nil {
			if !known[deviceid.ReasonOf(err)] {
				t.Fatalf("Parse(%q): unknown reason in %v", s, err)
			}
			return
		}
		if id.Raw != s || len(s) > deviceid.MaxLen || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
			t.Fatalf("Parse(%q) accepted %+v", s, id)
		}
		if id.Type != "DEVICE" && id.Type != "CALLING_DEVICE" {
			t.Fatalf("Parse(%q) accepted type %q", s, id.Type)
		}
		if id.Decoded != "ciscospark://"+id.Region+"/"+id.Type+"/"+id.Local {
			t.Fatalf("Parse(%q): parts %+v do not make up the decoded text", s, id)
		}
		b := []byte(id.Decoded)
		spellings := []string{base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
			base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
		for _, sp := range spellings {
			if sp == s {
				return
			}
		}
		t.Fatalf("Parse(%q) accepted a spelling that is none of %v", s, spellings)
	})
}
