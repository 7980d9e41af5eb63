package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

func callingID(uuid string) string {
	return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/" + uuid))
}

// A short ID that fits more devices than MaxPrefixMatches returns the
// first of them and says there are more; one more digit narrows it.
func TestFindDevicesCapsAShortPrefix(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	var devs []store.NewDevice
	for i := range store.MaxPrefixMatches + 5 {
		devs = append(devs, store.NewDevice{ID: callingID(fmt.Sprintf("abcd%04d-0000-4000-8000-000000000000", i))})
	}
	devs = append(devs, store.NewDevice{ID: callingID("abce0000-0000-4000-8000-000000000000")})
	if _, err := st.TrackDevices(ctx, devs, false); err != nil {
		t.Fatal(err)
	}
	find := func(s string) ([]string, bool) {
		t.Helper()
		l, err := device.ParseLookup(s)
		if err != nil {
			t.Fatal(err)
		}
		ms, more, err := st.FindDevices(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.DeviceID)
		}
		return ids, more
	}
	if ids, more := find("abcd…"); len(ids) != store.MaxPrefixMatches || !more {
		t.Errorf("abcd: %d devices, more %v; want %d and more", len(ids), more, store.MaxPrefixMatches)
	}
	ids, more := find("ABCD002")
	want := []string{devs[20].ID, devs[21].ID, devs[22].ID, devs[23].ID, devs[24].ID}
	slices.Sort(want) // by ID
	if diff := cmp.Diff(want, ids); diff != "" || more {
		t.Errorf("abcd002: more %v (-want +got):\n%s", more, diff)
	}
	// The prefix's range ends where it should: abcd does not reach abce.
	if ids, _ := find("abce"); len(ids) != 1 || ids[0] != devs[len(devs)-1].ID {
		t.Errorf("abce: %v", ids)
	}
}

// A removed device is found by its history, under the spelling it was
// first recorded with, whatever spelling is asked for.
func TestFindDevicesFallsBackToTheHistory(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	ids := spellings("12345678-0000-4000-8000-0000000000aa")
	if _, err := pool.Exec(ctx, `
		INSERT INTO device_changes (device_id, field, new_value, changed_at)
		VALUES ($1, 'ip', '10.0.0.1', now() - interval '2 days'), ($2, 'ip', '10.0.0.2', now() - interval '1 day')`,
		ids[2], ids[1]); err != nil {
		t.Fatal(err)
	}
	upper := callingID("12345678-0000-4000-8000-0000000000AA")
	for _, in := range []string{ids[0], ids[1], ids[3], upper} {
		l, err := device.ParseLookup(in)
		if err != nil {
			t.Fatal(err)
		}
		got, more, err := st.FindDevices(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.DeviceMatch{{DeviceID: ids[2], MatchedBy: []string{"history"}}}
		if diff := cmp.Diff(want, got); diff != "" || more {
			t.Errorf("find %s (-want +got):\n%s", in, diff)
		}
	}
	// Only the history is searched, not tracked devices' forms: a UUID
	// alone does not reach it.
	l, _ := device.ParseLookup("12345678-0000-4000-8000-0000000000aa")
	if got, _, err := st.FindDevices(ctx, l); err != nil || len(got) != 0 {
		t.Errorf("find by UUID: %v, %v; want nothing", got, err)
	}
}
