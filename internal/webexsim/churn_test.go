package webexsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChurn(t *testing.T) {
	t.Parallel()
	spec := ChurnSpec{Seed: 5, IPChange: 0.1, MACChange: 0.05, ActivationChange: 0.2, Remove: 0.04, Add: 17}
	s, base := newServer(t, Config{Devices: 500, Seed: 21})
	before := map[string]Device{}
	for _, d := range s.Devices() {
		before[d.ID] = d
	}
	rep := s.Churn(spec)

	// The same seed and spec on the same population give the same step.
	twin := mustNew(t, Config{Devices: 500, Seed: 21})
	if diff := cmp.Diff(rep, twin.Churn(spec)); diff != "" {
		t.Fatalf("churn is not reproducible (-first +second):\n%s", diff)
	}

	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"removed", len(rep.Removed), 20},
		{"ip changed", len(rep.IPChanged), 50},
		{"mac changed", len(rep.MACChanged), 25},
		{"activation changed", len(rep.ActivationChanged), 100},
		{"added", len(rep.Added), 17},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d devices, want %d", c.name, c.got, c.want)
		}
	}

	// Expected truth: the old devices, minus removals, with each reported change.
	want := map[string]Device{}
	for id, d := range before {
		want[id] = d
	}
	for _, id := range rep.Removed {
		delete(want, id)
	}
	apply := func(changes []FieldChange, field func(*Device) *string) {
		for _, c := range changes {
			d, ok := want[c.ID]
			if !ok {
				t.Fatalf("change reported for %s, which is removed or unknown", c.ID)
			}
			if *field(&d) != c.Old {
				t.Fatalf("report says %s had %q, truth before churn was %q", c.ID, c.Old, *field(&d))
			}
			if c.Old == c.New {
				t.Fatalf("no-op change reported for %s: %q", c.ID, c.Old)
			}
			*field(&d) = c.New
			want[c.ID] = d
		}
	}
	apply(rep.IPChanged, func(d *Device) *string { d.IPOmitted = false; return &d.IP })
	apply(rep.MACChanged, func(d *Device) *string { return &d.MAC })
	apply(rep.ActivationChanged, func(d *Device) *string { return &d.ActivationState })

	transitions := map[string]string{"": "activating", "activating": "activated", "activated": "deactivated", "deactivated": "activating"}
	for _, c := range rep.ActivationChanged {
		if transitions[c.Old] != c.New {
			t.Errorf("activation %q -> %q is not a valid transition", c.Old, c.New)
		}
	}

	// What is served matches the expected truth, for every old device.
	for id, w := range want {
		res := get(t, detailsURL(base, id), DefaultToken)
		if res.status != http.StatusOK {
			t.Fatalf("GET surviving %s = %d", id, res.status)
		}
		if diff := cmp.Diff(wantDetails(w), decodeMap(t, res.body)); diff != "" {
			t.Fatalf("served %s after churn (-want +got):\n%s", id, diff)
		}
	}
	for _, id := range rep.Removed {
		if got := get(t, detailsURL(base, id), DefaultToken).status; got != http.StatusNotFound {
			t.Fatalf("removed %s answered %d, want 404", id, got)
		}
	}
	for _, id := range rep.Added {
		d, ok := s.Device(id)
		if !ok || before[id].ID != "" {
			t.Fatalf("added %s: present %v, existed before %v", id, ok, before[id].ID != "")
		}
		res := get(t, detailsURL(base, id), DefaultToken)
		if diff := cmp.Diff(wantDetails(d), decodeMap(t, res.body)); diff != "" {
			t.Fatalf("served added %s (-want +got):\n%s", id, diff)
		}
	}

	// The listing holds exactly the survivors, in their old order, then the additions.
	var wantIDs, wantListIDs []string
	for _, d := range s.Devices() {
		wantIDs = append(wantIDs, d.ID)
		wantListIDs = append(wantListIDs, d.ListID)
	}
	if len(wantIDs) != 500-20+17 {
		t.Fatalf("%d devices present, want %d", len(wantIDs), 500-20+17)
	}
	if diff := cmp.Diff(rep.Added, wantIDs[len(wantIDs)-17:]); diff != "" {
		t.Fatalf("added devices are not at the end (-report +order):\n%s", diff)
	}
	items, _ := listAll(t, base+"/devices?max=64")
	var listed []string
	for _, it := range items {
		listed = append(listed, it.ID)
	}
	if diff := cmp.Diff(wantListIDs, listed); diff != "" {
		t.Fatalf("listing after churn (-want +got):\n%s", diff)
	}

	macs := map[string]bool{}
	for _, d := range s.Devices() {
		if macs[d.MAC] {
			t.Fatalf("MAC %s duplicated after churn", d.MAC)
		}
		macs[d.MAC] = true
	}
}

func TestChurnEditedDevice(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Devices: 1, Seed: 2})
	id := s.IDs()[0]
	s.Update(id, func(d *Device) { d.IP, d.IPOmitted, d.ActivationState, d.Model = "", true, "activated", "Custom Model" })
	rep := s.Churn(ChurnSpec{Seed: 1, IPChange: 1, MACChange: 1, ActivationChange: 1})
	d, _ := s.Device(id)
	if len(rep.IPChanged) != 1 || rep.IPChanged[0].Old != "" || d.IP != rep.IPChanged[0].New || d.IPOmitted {
		t.Errorf("IP change on an edited device: report %+v, device IP %q omitted %v", rep.IPChanged, d.IP, d.IPOmitted)
	}
	if len(rep.MACChanged) != 1 || d.MAC != rep.MACChanged[0].New || d.MAC[:6] != rep.MACChanged[0].Old[:6] {
		t.Errorf("MAC change on an edited device: report %+v, device MAC %q", rep.MACChanged, d.MAC)
	}
	if len(rep.ActivationChanged) != 1 || d.ActivationState != "deactivated" {
		t.Errorf("activation change on an edited device: report %+v, device %q", rep.ActivationChanged, d.ActivationState)
	}
	if d.Model != "Custom Model" {
		t.Errorf("churn lost the edit: model %q", d.Model)
	}
}

func TestChurnEndpoint(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 50, Seed: 4})
	res := post(t, simURL(base, "churn"), map[string]any{"seed": 1, "remove": 0.1, "add": 3})
	if res.status != http.StatusOK {
		t.Fatalf("POST churn = %d %s", res.status, res.body)
	}
	var rep ChurnReport
	if err := json.Unmarshal(res.body, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 5 || len(rep.Added) != 3 || s.Len() != 48 {
		t.Fatalf("report removed %d added %d, now %d devices; want 5, 3, 48", len(rep.Removed), len(rep.Added), s.Len())
	}
	for _, id := range rep.Removed {
		if slices.Contains(s.IDs(), id) {
			t.Fatalf("removed %s still present", id)
		}
	}
	for _, bad := range []map[string]any{{"remove": 2}, {"add": -1}, {"unknownField": 1}} {
		if res := post(t, simURL(base, "churn"), bad); res.status != http.StatusBadRequest {
			t.Errorf("POST churn %v = %d, want 400", bad, res.status)
		}
	}
	if s.Len() != 48 {
		t.Fatalf("a rejected churn changed the population to %d", s.Len())
	}
}

// Churn moves what only the listing shows, and the report says exactly
// what the listing then serves.
func TestChurnListingFields(t *testing.T) {
	t.Parallel()
	s, base := newServer(t, Config{Devices: 200, Seed: 8})
	id0 := s.IDs()[0]
	s.Update(id0, func(d *Device) { d.Model = "Hand edited" }) // a full record churns too
	before := map[string]Device{}
	for _, d := range s.Devices() {
		before[d.ID] = d
	}
	rep := s.Churn(ChurnSpec{Seed: 3, SoftwareChange: 0.1, StatusChange: 0.2, LastSeenChange: 1})
	if len(rep.SoftwareChanged) != 20 || len(rep.StatusChanged) != 40 || len(rep.LastSeenChanged) != 200 {
		t.Fatalf("changed %d software, %d status, %d lastSeen; want 20, 40, 200",
			len(rep.SoftwareChanged), len(rep.StatusChanged), len(rep.LastSeenChanged))
	}
	want := map[string]Device{}
	for id, d := range before {
		want[id] = d
	}
	for _, c := range rep.SoftwareChanged {
		d := want[c.ID]
		if c.Old != d.Software || c.New == c.Old {
			t.Errorf("software %s: %q -> %q, was %q", c.ID, c.Old, c.New, d.Software)
		}
		d.Software = c.New
		want[c.ID] = d
	}
	for _, c := range rep.StatusChanged {
		d := want[c.ID]
		if c.Old != d.ConnectionStatus || (c.Old == "connected") == (c.New == "connected") || !slices.Contains(ConnectionStatuses, c.New) {
			t.Errorf("status %s: %q -> %q, was %q: want a flip to or from connected", c.ID, c.Old, c.New, d.ConnectionStatus)
		}
		d.ConnectionStatus = c.New
		want[c.ID] = d
	}
	for _, c := range rep.LastSeenChanged {
		d := want[c.ID]
		nt, err := time.Parse(time.RFC3339Nano, c.New)
		if err != nil || !nt.After(d.LastSeen) {
			t.Errorf("lastSeen %s: %q -> %q (%v): want a later time", c.ID, c.Old, c.New, err)
		}
		d.LastSeen = nt
		want[c.ID] = d
	}
	items, _ := listAll(t, base+"/devices")
	var wantItems []listItem
	for _, d := range s.Devices() {
		wantItems = append(wantItems, wantListItem(want[d.ID]))
	}
	for i := range items {
		items[i].DisplayName, items[i].Product = "", ""
	}
	if diff := cmp.Diff(wantItems, items); diff != "" {
		t.Errorf("listing after churn (-want +got):\n%s", diff)
	}
	if d, _ := s.Device(id0); d.Model != "Hand edited" {
		t.Errorf("churn lost the hand edit: model %q", d.Model)
	}
}
