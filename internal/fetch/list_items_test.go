package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	hw, ok := device.ParseMAC(s)
	if !ok {
		t.Fatalf("test MAC %q does not parse", s)
	}
	return hw
}

// Every item of the simulator's listing comes back typed and normalised:
// the identity of the device whichever ID it carries, phone MACs without
// colons and room MACs with them alike, every connection status.
func TestListItemsNormalised(t *testing.T) {
	t.Parallel()
	sim, base := startListSim(t, webexsim.Config{Devices: 400, Seed: 17})
	l, err := listClient(t, base).ListDevices(context.Background(), fetch.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []device.Listed
	seen := map[string]bool{}
	for _, d := range sim.Devices() {
		key, err := deviceid.KeyOf(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		w := device.Listed{
			ID: d.ListID, CallingDeviceID: d.ID, Key: key,
			MAC: mustMAC(t, d.MAC), ConnectionStatus: device.ConnectionStatus(d.ConnectionStatus),
			Software: d.Software, Serial: d.Serial, LastSeen: d.LastSeen, Type: d.Type,
			PersonID: d.PersonID, WorkspaceID: d.WorkspaceID, LocationID: d.LocationID, OrgID: sim.OrgID(),
		}
		if d.IP != "" {
			w.IP = netip.MustParseAddr(d.IP)
		}
		if d.CallingIDOmitted {
			w.CallingDeviceID = ""
			seen["no callingDeviceId"] = true
		}
		seen["type "+d.Type] = true
		seen["status "+d.ConnectionStatus] = true
		want = append(want, w)
	}
	for _, k := range []string{"no callingDeviceId", "type phone", "type roomdesk"} {
		if !seen[k] {
			t.Fatalf("no device with %s in the population: the test covers less than it says", k)
		}
	}
	for _, st := range device.ConnectionStatuses {
		if !seen["status "+string(st)] {
			t.Fatalf("no device with status %s in the population", st)
		}
	}
	for _, d := range l.Devices {
		if d.DisplayName == "" || d.Product == "" {
			t.Errorf("item %s has no displayName or product", d.ID)
		}
	}
	if diff := cmp.Diff(want, l.Devices, cmpAddr, cmpopts.IgnoreFields(device.Listed{}, "DisplayName", "Product"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
}

// A room device's MAC is listed with colons and detailed without: the two
// normalise to the same address. An item without callingDeviceId is
// fetched by its DEVICE-type id.
func TestListingAndDetailsAgree(t *testing.T) {
	t.Parallel()
	_, base := startListSim(t, webexsim.Config{Devices: 300, Seed: 23})
	c := listClient(t, base)
	l, err := c.ListDevices(context.Background(), fetch.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rooms, omitted int
	for _, item := range l.Devices {
		d, err := c.Device(context.Background(), item.DetailsID(), "")
		if err != nil {
			t.Fatalf("details of listed %s: %v", item.DetailsID(), err)
		}
		if item.Type == "roomdesk" {
			rooms++ // listed as 11:22:.., detailed as 1122..: compared below
		}
		if !bytes.Equal(item.MAC, d.MAC) || item.IP != d.IP {
			t.Errorf("%s: listing says %v %v, details %v %v", item.ID, item.IP, item.MAC, d.IP, d.MAC)
		}
		if item.CallingDeviceID == "" {
			omitted++
			if d.ID != item.ID {
				t.Errorf("details asked by id %s answered for %s", item.ID, d.ID)
			}
		}
	}
	if rooms == 0 || omitted == 0 {
		t.Fatalf("%d rooms and %d items without callingDeviceId: the test covers less than it says", rooms, omitted)
	}
}

// Every spelling of a device's ID fetches that device from the simulator.
func TestDetailsEverySpellingAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim, base := startListSim(t, webexsim.Config{Devices: 1, Seed: 2})
	truth := sim.Devices()[0]
	uuid, err := deviceid.UUID(truth.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := listClient(t, base)
	for _, typ := range []string{"DEVICE", "CALLING_DEVICE"} {
		for _, u := range []string{uuid, strings.ToUpper(uuid)} {
			for _, enc := range []string{"std", "raw std", "raw url"} {
				id := encodeAs(enc, "ciscospark://us/"+typ+"/"+u)
				d, err := c.Device(context.Background(), id, "")
				if err != nil {
					t.Errorf("Device(%s %s %s): %v", typ, u, enc, err)
					continue
				}
				if d.ID != id || d.Model != truth.Model {
					t.Errorf("Device(%s) = %s %s, want %s %s", id, d.ID, d.Model, id, truth.Model)
				}
			}
		}
	}
}

// Bad values in an item are warnings, never a failed page; unknown fields
// are ignored.
func TestListItemBadValuesAreWarnings(t *testing.T) {
	t.Parallel()
	good := encodeAs("std", "ciscospark://us/DEVICE/51a2a29b-6b4e-4c8e-9f52-7c0d5e3b1a44")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items":[
			{"id":%q,"ip":"300.1.1.1","mac":"zz:zz","connectionStatus":"Sleeping","lastSeen":"yesterday",
			 "serial":42,"software":null,"product":["x"],"newField":{"a":1},"displayName":"lobby\u0000phone"},
			{"id":"not-an-id","ip":" 10.0.0.1 ","mac":"aa-bb-cc-dd-ee-ff","connectionStatus":"CONNECTED","lastSeen":"2026-11-27T09:00:00.123Z"},
			{"type":"accessory"}
		]}`, good)
	}))
	t.Cleanup(srv.Close)
	l, err := listClient(t, srv.URL+"/v1").ListDevices(context.Background(), fetch.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []device.Listed{
		{ID: good, Key: "51a2a29b-6b4e-4c8e-9f52-7c0d5e3b1a44", ConnectionStatus: "sleeping", DisplayName: "lobby\uFFFDphone", Warnings: []string{
			`serial 42 is not a string; ignored`,
			`displayName contains NUL characters; they were replaced by U+FFFD`,
			`product ["x"] is not a string; ignored`,
			`ip "300.1.1.1" is not an IP address; ignored`,
			`mac "zz:zz" is not a MAC address; ignored`,
			`connectionStatus "sleeping" is not a documented state; kept as received`,
			`lastSeen "yesterday" is not an RFC 3339 time; ignored`,
		}},
		{ID: "not-an-id", IP: netip.MustParseAddr("10.0.0.1"), MAC: mustMAC(t, "AABBCCDDEEFF"), ConnectionStatus: "connected",
			LastSeen: time.Date(2026, 11, 27, 9, 0, 0, 123e6, time.UTC),
			Warnings: []string{`device ID "not-an-id": not a Webex ID: not base64`}},
		{Type: "accessory", Warnings: []string{"the item has neither id nor callingDeviceId"}},
	}
	if diff := cmp.Diff(want, l.Devices, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

// A 504 is retried with a smaller max, as the API advises, and the smaller
// max holds for the rest of the listing.
func TestListing504RetriedWithSmallerMax(t *testing.T) {
	t.Parallel()
	sim, base := startListSim(t, webexsim.Config{Devices: 120, Seed: 4, ListTimeoutAbove: 30})
	var sizes []int
	c := listClient(t, base)
	st, err := c.EachListPage(context.Background(), fetch.ListOptions{PageSize: 100}, func(p fetch.ListPage) error {
		sizes = append(sizes, len(p.Items))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// max 100 (504), 50 (504), 25: then pages of 25.
	if diff := cmp.Diff([]int{25, 25, 25, 25, 20}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if st.PageSize != 25 || st.Items != 120 || st.Pages != 5 {
		t.Errorf("stats %+v, want page size 25, 120 items, 5 pages", st)
	}
	if s := sim.Stats(); s.List != 7 || s.ByStatus[504] != 2 {
		t.Errorf("simulator saw %d listing requests, %d of them 504; want 7 and 2", s.List, s.ByStatus[504])
	}
	if _, err := c.Device(context.Background(), sim.IDs()[0], ""); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.ListRequests != 7 || s.Requests != 8 {
		t.Errorf("client counted %d listing requests of %d; want 7 of 8", s.ListRequests, s.Requests)
	}
}

// Pages reach the callback in order as they come; when page 3 fails, the
// caller has had pages 1 and 2 and gets a *ListError for page 3.
func TestEachListPageDeliversPagesThenFails(t *testing.T) {
	t.Parallel()
	sim, base := startListSim(t, webexsim.Config{Devices: 50, Seed: 6})
	sim.SetListFault(webexsim.Fault{Kind: webexsim.FaultInternal, Skip: 2})
	var got []int
	_, err := listClient(t, base).EachListPage(context.Background(), fetch.ListOptions{PageSize: 10}, func(p fetch.ListPage) error {
		got = append(got, p.Number)
		return nil
	})
	var le *fetch.ListError
	if !errors.As(err, &le) || le.Page != 3 || fetch.KindOf(err) != fetch.KindTransient {
		t.Fatalf("err = %v, want a transient *ListError for page 3", err)
	}
	if diff := cmp.Diff([]int{1, 2}, got); diff != "" {
		t.Errorf("pages delivered (-want +got):\n%s", diff)
	}
	// An error from the callback ends the listing and comes back as is.
	stop := errors.New("enough")
	sim.ClearListFault()
	_, err = listClient(t, base).EachListPage(context.Background(), fetch.ListOptions{PageSize: 10}, func(p fetch.ListPage) error { return stop })
	if err != stop {
		t.Errorf("err = %v, want the callback's own error", err)
	}
}

// The mac filter reaches the simulator in either spelling.
func TestListByMAC(t *testing.T) {
	t.Parallel()
	sim, base := startListSim(t, webexsim.Config{Devices: 60, Seed: 6})
	target := sim.Devices()[17]
	l, err := listClient(t, base).ListDevices(context.Background(), fetch.ListOptions{MAC: strings.ToLower(target.MAC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Devices) != 1 || l.Devices[0].ID != target.ListID {
		t.Errorf("mac filter listed %+v, want only %s", l.Devices, target.ListID)
	}
}
