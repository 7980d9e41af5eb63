package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/migrations"
)

// spellings are the ways one device's ID reaches the job: either TYPE,
// either base64 alphabet, padded or not.
func spellings(uuid string) []string {
	var out []string
	for _, typ := range []string{"CALLING_DEVICE", "DEVICE"} {
		raw := []byte("ciscospark://us/" + typ + "/" + uuid)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if s := enc.EncodeToString(raw); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// The database's wxc_device_key, behind the unique device_key, names a
// device exactly as internal/deviceid's Key does.
func TestDeviceKeyAgreesWithDeviceID(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	// A UUID whose base64 needs padding and uses the alphabets' differing
	// characters, in upper case (the key is lower case).
	inputs := spellings("3F0B9C1E-7A2D-4E55-9B1A-0C6D7E8F9A0B")
	inputs = append(inputs,
		base64.StdEncoding.EncodeToString([]byte("ciscospark://urn:TEAM:us-east-2_a/DEVICE/not-a-uuid")),
		base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/3f0b9c1e-7a2d-4e55-9b1a-0c6d7e8f9a0b")), // not a device
		"not base64!", "00:11:22:AA:BB:CC", "Zm9v===", "")
	for _, in := range inputs {
		var got *string
		if err := pool.QueryRow(context.Background(), "SELECT wxc_device_key($1)", in).Scan(&got); err != nil {
			t.Fatalf("wxc_device_key(%q): %v", in, err)
		}
		want, err := deviceid.KeyOf(in)
		switch {
		case err != nil && got != nil:
			t.Errorf("wxc_device_key(%q) = %q; deviceid says it is not a device ID (%v)", in, *got, err)
		case err == nil && (got == nil || *got != string(want)):
			t.Errorf("wxc_device_key(%q) = %v, want %q", in, got, want)
		}
	}
}

// Another spelling of a tracked device is that device: devices add and
// import report it with the ID it is tracked as, and add no row.
func TestTrackDevicesMatchesEverySpelling(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	st := store.New(pool)
	ctx := context.Background()
	ids := spellings("11111111-2222-4333-8444-555555555555")
	if _, err := st.TrackDevices(ctx, []store.NewDevice{{ID: ids[0]}}, false); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[1:] {
		org := fmt.Sprintf("ORG-%d", i)
		before := orgOf(t, pool, ids[0])
		got, err := st.TrackDevices(ctx, []store.NewDevice{{ID: id, OrgID: org}}, false)
		if err != nil {
			t.Fatalf("track %s: %v", id, err)
		}
		want := []store.TrackChange{{DeviceID: id, TrackedAs: ids[0], OldOrgID: before, NewOrgID: s(org)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("track %s (-want +got):\n%s", id, diff)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM devices").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d rows for one device tracked in %d spellings", n, len(ids))
	}
}

// orgOf reads a device's org_id.
func orgOf(t *testing.T, pool *pgxpool.Pool, id string) *string {
	t.Helper()
	var org *string
	if err := pool.QueryRow(context.Background(), "SELECT org_id FROM devices WHERE device_id = $1", id).Scan(&org); err != nil {
		t.Fatal(err)
	}
	return org
}

// Migration 00009 merges rows that name one device in several spellings
// into the row synced first, and keeps every history row.
func TestMigrationMergesDuplicateDevices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.EmptyDBURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.UpTo(ctx, pool, 8); err != nil {
		t.Fatal(err)
	}
	a := spellings("aaaaaaaa-0000-4000-8000-000000000001")
	b := spellings("bbbbbbbb-0000-4000-8000-000000000002")
	// a[0] synced first, a[1] later, a[2] never; b[1] alone.
	if _, err := pool.Exec(ctx, `INSERT INTO sync_runs (status) VALUES ('succeeded')`); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO devices (device_id, first_synced_at, added_at) VALUES
		  ($1, now() - interval '9 days', now() - interval '10 days'),
		  ($2, now() - interval '1 day',  now() - interval '20 days'),
		  ($3, NULL,                      now() - interval '30 days'),
		  ($4, NULL,                      now()),
		  ('hand-made', NULL,             now())`, a[0], a[1], a[2], b[1])
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO device_changes (device_id, run_id, field, old_value, new_value) VALUES
		  ($1, 1, 'ip', NULL, '10.0.0.1'), ($2, 1, 'ip', NULL, '10.0.0.2'), ($3, 1, 'mac', NULL, '00:00:00:00:00:01')`,
		a[0], a[1], b[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	rows, _ := pool.Query(ctx, "SELECT device_id FROM devices ORDER BY device_id")
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a[0], b[1], "hand-made"}
	slices.Sort(want)
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("devices after the merge (-want +got):\n%s", diff)
	}
	rows, _ = pool.Query(ctx, "SELECT merged_id || ' -> ' || kept_id FROM device_id_merges ORDER BY merged_id")
	merges, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	wantMerges := []string{a[1] + " -> " + a[0], a[2] + " -> " + a[0]}
	slices.Sort(wantMerges)
	if diff := cmp.Diff(wantMerges, merges); diff != "" {
		t.Errorf("merges (-want +got):\n%s", diff)
	}
	var history int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM device_changes").Scan(&history); err != nil {
		t.Fatal(err)
	}
	if history != 3 {
		t.Errorf("%d history rows after the merge, want all 3", history)
	}
	// And the index now refuses a second spelling outright.
	_, err = pool.Exec(ctx, "INSERT INTO devices (device_id) VALUES ($1)", a[len(a)-1])
	if err == nil || !strings.Contains(err.Error(), "devices_device_key_idx") {
		t.Errorf("a second spelling inserted by hand: %v, want a unique violation", err)
	}
}
