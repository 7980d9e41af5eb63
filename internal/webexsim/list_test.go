package webexsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type listItem struct {
	ID              string   `json:"id"`
	CallingDeviceID string   `json:"callingDeviceId"`
	DisplayName     string   `json:"displayName"`
	MAC             string   `json:"mac"`
	IP              string   `json:"ip"`
	Product         string   `json:"product"`
	Type            string   `json:"type"`
	Tags            []string `json:"tags"`

	ConnectionStatus string `json:"connectionStatus"`
	Software         string `json:"software"`
	Serial           string `json:"serial"`
	LastSeen         string `json:"lastSeen"`
	PersonID         string `json:"personId"`
	WorkspaceID      string `json:"workspaceId"`
	LocationID       string `json:"locationId"`
}

var linkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// listAll follows next links from first to the end and returns every item and
// every next URL it followed.
func listAll(t *testing.T, first string) (items []listItem, nexts []*url.URL) {
	t.Helper()
	u := first
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("more than 10000 pages: the links loop")
		}
		res := get(t, u, DefaultToken)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", u, res.status, res.body)
		}
		var page struct {
			Items []listItem `json:"items"`
		}
		if err := json.Unmarshal(res.body, &page); err != nil {
			t.Fatalf("decode page %s: %v", u, err)
		}
		items = append(items, page.Items...)
		link := res.header.Get("Link")
		if link == "" {
			return items, nexts
		}
		m := linkRE.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("Link %q is not <url>; rel=\"next\"", link)
		}
		next, err := url.Parse(m[1])
		if err != nil || !next.IsAbs() {
			t.Fatalf("next link %q is not an absolute URL (%v)", m[1], err)
		}
		nexts = append(nexts, next)
		u = m[1]
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		devices     int
		query       string
		drop        bool
		wantPerPage int
	}{
		{name: "default page size", devices: 250, query: "", wantPerPage: 100},
		{name: "exact multiple", devices: 300, query: "max=100", wantPerPage: 100},
		{name: "one page", devices: 7, query: "max=10", wantPerPage: 10},
		{name: "page of one", devices: 5, query: "max=1", wantPerPage: 1},
		{name: "max silently capped at 100", devices: 250, query: "max=5000", wantPerPage: 100},
		{name: "filters kept", devices: 120, query: "max=50&type=phone&orgId=ORG", wantPerPage: 50},
		{name: "filters dropped on next", devices: 120, query: "max=50&type=phone&orgId=ORG", drop: true, wantPerPage: 50},
		{name: "empty population", devices: 0, query: "max=10", wantPerPage: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, base := newServer(t, Config{Devices: tt.devices, Seed: 11, DropFiltersOnNext: tt.drop})
			items, nexts := listAll(t, base+"/devices?"+tt.query)

			devs := s.Devices()
			var want, got []listItem
			typ := must(url.ParseQuery(tt.query)).Get("type")
			for _, d := range devs {
				if typ != "" && d.Type != typ {
					continue
				}
				want = append(want, wantListItem(d))
			}
			if tt.drop {
				// Only the first page is filtered: the client here does not
				// put the dropped filter back, and the next pages count
				// from the unfiltered listing.
				want = want[:min(len(want), tt.wantPerPage)]
				for _, d := range devs[min(len(devs), tt.wantPerPage):] {
					want = append(want, wantListItem(d))
				}
			}
			for _, it := range items {
				it.DisplayName, it.Product = "", ""
				got = append(got, it)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("listed devices (-want +got):\n%s", diff)
			}
			wantPages := (len(want) + tt.wantPerPage - 1) / tt.wantPerPage
			if got := len(nexts); got != max(0, wantPages-1) {
				t.Fatalf("followed %d next links, want %d", got, wantPages-1)
			}
			for i, n := range nexts {
				q := n.Query()
				if q.Get("start") != strconv.Itoa((i+1)*tt.wantPerPage) || q.Get("max") != strconv.Itoa(tt.wantPerPage) {
					t.Fatalf("next link %d = %s: want start=%d max=%d", i, n, (i+1)*tt.wantPerPage, tt.wantPerPage)
				}
				kept := q.Has("type") || q.Has("orgId")
				wantKept := !tt.drop && must(url.ParseQuery(tt.query)).Has("type")
				if kept != wantKept {
					t.Fatalf("next link %s: filters kept = %v, want %v", n, kept, wantKept)
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// wantListItem is the item d should produce, written apart from
// appendListItem: phones list their MAC bare, rooms with colons; some
// items have no callingDeviceId.
func wantListItem(d Device) listItem {
	it := listItem{ID: d.ListID, CallingDeviceID: d.ID, MAC: d.MAC, IP: d.IP, Type: d.Type, Tags: d.Tags,
		ConnectionStatus: d.ConnectionStatus, Software: d.Software, Serial: d.Serial,
		LastSeen: d.LastSeen.Format("2006-01-02T15:04:05.000Z"), PersonID: d.PersonID, WorkspaceID: d.WorkspaceID, LocationID: d.LocationID}
	if d.Type != "phone" {
		it.MAC = colonMACForTest(d.MAC)
	}
	if d.CallingIDOmitted {
		it.CallingDeviceID = ""
	}
	return it
}

// colonMACForTest is written apart from colonMAC so a bug in one shows.
func colonMACForTest(m string) string {
	return m[0:2] + ":" + m[2:4] + ":" + m[4:6] + ":" + m[6:8] + ":" + m[8:10] + ":" + m[10:12]
}

func TestListFilterAndErrors(t *testing.T) {
	t.Parallel()
	_, base := newServer(t, Config{Devices: 20})
	tests := []struct {
		name      string
		query     string
		want      int
		wantItems int
	}{
		{"other type lists nothing", "type=accessory", 200, 0},
		{"start past the end", "start=500", 200, 0},
		{"last partial page", "start=15&max=10", 200, 5},
		{"max zero", "max=0", 400, 0},
		{"max not a number", "max=ten", 400, 0},
		{"negative start", "start=-1", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := get(t, base+"/devices?"+tt.query, DefaultToken)
			if res.status != tt.want {
				t.Fatalf("status %d, want %d: %s", res.status, tt.want, res.body)
			}
			if tt.want != 200 {
				return
			}
			var page struct{ Items []listItem }
			if err := json.Unmarshal(res.body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != tt.wantItems || res.header.Get("Link") != "" {
				t.Fatalf("%d items, Link %q; want %d items and no Link", len(page.Items), res.header.Get("Link"), tt.wantItems)
			}
		})
	}
}

func TestListFiltersByTypeAndMAC(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 300, Seed: 5})
	var rooms []listItem
	var phone, room Device
	for _, d := range s.Devices() {
		if d.Type == "roomdesk" {
			rooms = append(rooms, wantListItem(d))
			room = d
		} else {
			phone = d
		}
	}
	if len(rooms) == 0 {
		t.Fatal("no room device among 300: the test covers nothing")
	}
	items, _ := listAll(t, base+"/devices?type=roomdesk&max=2")
	for i := range items {
		items[i].DisplayName, items[i].Product = "", ""
	}
	if diff := cmp.Diff(rooms, items); diff != "" {
		t.Errorf("type=roomdesk (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name, mac string
		want      Device
	}{
		{"phone, bare", phone.MAC, phone},
		{"phone, colons, lower case", strings.ToLower(colonMACForTest(phone.MAC)), phone},
		{"room, bare", room.MAC, room},
	} {
		items, _ := listAll(t, base+"/devices?mac="+url.QueryEscape(tt.mac))
		if len(items) != 1 || items[0].ID != tt.want.ListID {
			t.Errorf("%s: mac=%s listed %+v, want only %s", tt.name, tt.mac, items, tt.want.ListID)
		}
	}
	if res := get(t, base+"/devices?mac=nonsense", DefaultToken); res.status != http.StatusBadRequest {
		t.Errorf("mac=nonsense answered %d, want 400", res.status)
	}
}

func TestListTimesOutOnLargePages(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 30, Seed: 5, ListTimeoutAbove: 20})
	if res := get(t, base+"/devices?max=21", DefaultToken); res.status != http.StatusGatewayTimeout {
		t.Errorf("max=21 answered %d, want 504", res.status)
	}
	if res := get(t, base+"/devices", DefaultToken); res.status != http.StatusGatewayTimeout {
		t.Errorf("the default max (100) answered %d, want 504", res.status)
	}
	items, _ := listAll(t, base+"/devices?max=20")
	if len(items) != 30 {
		t.Errorf("max=20 listed %d items, want 30", len(items))
	}
	if st := s.Stats(); st.List != 4 || st.Details != 0 {
		t.Errorf("stats count %d listing and %d details requests, want 4 and 0", st.List, st.Details)
	}
}
