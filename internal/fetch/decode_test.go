package fetch

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// vendorExample is the response on the vendor's reference page, verbatim.
const vendorExample = `{ "managedBy": "CUSTOMER", "owner": { "sipUserName": "392829", "linePort": "i6i1ar1v29@98079822.int10.bcld.webex.com" }, "proxy": { "outboundProxy": "hs17.hosted-int.bcld.webex.com" }, "manufacturer": "THIRD_PARTY", "id": "Y2lzY29zcGFyazovL3VybjpURUFNOnVzLWVhc3QtMV9pbnQxMy9ERVZJQ0UvNTEwMUIwN0ItNEY4Ri00RUY3LUI1NjUtREIxOUM3QjcyM0Y3", "ip": "100.110.120.130", "mac": "11223344AAFF", "model": "DMS Cisco 8811", "activationState": "activated", "description": [ "your tag", "device tag" ], "upgradeChannelEnabled": "true" }`

const vendorID = "Y2lzY29zcGFyazovL3VybjpURUFNOnVzLWVhc3QtMV9pbnQxMy9ERVZJQ0UvNTEwMUIwN0ItNEY4Ri00RUY3LUI1NjUtREIxOUM3QjcyM0Y3"

func ptr[T any](v T) *T { return &v }

func mustMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

func TestDecodeDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    device.Device
		wantErr string
	}{
		{
			name: "vendor example",
			body: vendorExample,
			want: device.Device{
				ID: vendorID, Manufacturer: "THIRD_PARTY", ManagedBy: "CUSTOMER", Model: "DMS Cisco 8811",
				IP: netip.MustParseAddr("100.110.120.130"), MAC: mustMAC("11:22:33:44:aa:ff"),
				ActivationState: device.ActivationActivated, Tags: []string{"your tag", "device tag"},
				UpgradeChannelEnabled: ptr(true), OwnerSIPUserName: "392829",
				OwnerLinePort: "i6i1ar1v29@98079822.int10.bcld.webex.com",
				OutboundProxy: "hs17.hosted-int.bcld.webex.com",
			},
		},
		{
			name: "boolean upgrade channel, absent optional fields, unknown fields",
			body: `{"id":"X","model":"DMS Cisco 6871","upgradeChannelEnabled":false,"newField":{"a":[1,2]},"mac":"aa:bb:cc:dd:ee:ff"}`,
			want: device.Device{ID: "X", Model: "DMS Cisco 6871", UpgradeChannelEnabled: ptr(false), MAC: mustMAC("aa:bb:cc:dd:ee:ff")},
		},
		{
			name: "string false, ipv6, dashed mac",
			body: `{"id":"X","upgradeChannelEnabled":"False","ip":"2001:db8::7","mac":"AA-BB-CC-DD-EE-01"}`,
			want: device.Device{ID: "X", UpgradeChannelEnabled: ptr(false), IP: netip.MustParseAddr("2001:db8::7"), MAC: mustMAC("aa:bb:cc:dd:ee:01")},
		},
		{
			name: "unusable ip, mac and boolean are warnings, not failures",
			body: `{"id":"X","ip":"not-an-ip","mac":"11223344AAF","upgradeChannelEnabled":"yes","activationState":"weird"}`,
			want: device.Device{ID: "X", ActivationState: "weird", Warnings: []string{
				`activationState "weird" is not a documented state; stored as received`,
				`ip "not-an-ip" is not an IP address; stored as NULL`,
				`mac "11223344AAF" is not a MAC address; stored as NULL`,
				`upgradeChannelEnabled "yes" is not a boolean; stored as NULL`,
			}},
		},
		{
			name: "empty ip and mac are absent",
			body: `{"id":"X","ip":"","mac":" "}`,
			want: device.Device{ID: "X"},
		},
		{
			name: "description as a comma-separated string",
			body: `{"id":"X","description":"a, b ,,c"}`,
			want: device.Device{ID: "X", Tags: []string{"a", "b", "c"}},
		},
		{
			name: "NUL characters are replaced",
			body: `{"id":"X","model":"bad\u0000model"}`,
			want: device.Device{ID: "X", Model: "bad\uFFFDmodel", Warnings: []string{"payload contains NUL characters; they were replaced by U+FFFD"}},
		},
		{name: "wrong id", body: `{"id":"Y"}`, wantErr: `response is for device "Y", not the requested one`},
		{name: "missing id", body: `{"model":"x"}`, wantErr: `response is for device "", not the requested one`},
		// An opaque requested ID (not base64) matches only itself.
		{name: "empty id for an opaque request", body: `{"id":""}`, wantErr: `response is for device "", not the requested one`},
		{name: "not JSON", body: `<html>oops</html>`, wantErr: "decode device details"},
		{name: "truncated", body: vendorExample[:100], wantErr: "decode device details"},
		{name: "array", body: `[{"id":"X"}]`, wantErr: "decode device details"},
		{name: "wrong type", body: `{"id":"X","model":42}`, wantErr: "decode device details"},
		{name: "trailing garbage", body: `{"id":"X"} {}`, wantErr: "decode device details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want.ID
			if want == "" {
				want = "X"
			}
			if tt.name == "vendor example" {
				want = vendorID
			}
			got, err := DecodeDevice([]byte(tt.body), want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !json.Valid(got.Raw) {
				t.Errorf("Raw is not valid JSON: %s", got.Raw)
			}
			if strings.Contains(string(got.Raw), `\u0000`) {
				t.Errorf("Raw still holds a NUL escape: %s", got.Raw)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(device.Device{}, "Raw"), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("device mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzDecodeDevice(f *testing.F) {
	f.Add([]byte(vendorExample), vendorID)
	f.Add([]byte(`{"id":"X","upgradeChannelEnabled":"true","ip":"1.2.3.4","mac":"11:22:33:44:55:66"}`), "X")
	f.Add([]byte(`{"id":"X","model":"a\u0000b","description":"x,y"}`), "X")
	f.Add([]byte(`{"id":"X"`), "X")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		d, err := DecodeDevice(body, id)
		if err != nil {
			return
		}
		if d.ID != id {
			t.Fatalf("decoded id %q for requested %q", d.ID, id)
		}
		if !json.Valid(d.Raw) {
			t.Fatalf("Raw is not valid JSON: %q", d.Raw)
		}
		if d.MAC != nil && len(d.MAC) != 6 {
			t.Fatalf("MAC %v is not 6 bytes", d.MAC)
		}
		if d.IP.IsValid() && d.IP.Zone() != "" {
			t.Fatalf("IP %v keeps a zone", d.IP)
		}
	})
}

func TestParseMAC(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want string // "" means rejected
	}{
		{"11223344AAFF", "11:22:33:44:aa:ff"},
		{"11:22:33:44:AA:FF", "11:22:33:44:aa:ff"},
		{"1122.3344.aaff", "11:22:33:44:aa:ff"},
		{"11223344AAF", ""},
		{"11223344AAFF00", ""},
		{"11223344AAFG", ""},
		{"11 22 33 44 AA FF", ""},
	} {
		hw, ok := device.ParseMAC(tt.in)
		got := ""
		if ok {
			got = hw.String()
		}
		if got != tt.want {
			t.Errorf("ParseMAC(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
