package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// queryCapture keeps the SQL and arguments of the statements whose text
// holds a marker (sqlc's "-- name: X" line), to EXPLAIN them as sent.
type queryCapture struct {
	marker string
	mu     sync.Mutex
	sql    string
	args   []any
}

func (c *queryCapture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, c.marker) {
		c.mu.Lock()
		c.sql, c.args = d.SQL, d.Args
		c.mu.Unlock()
	}
	return ctx
}

func (c *queryCapture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// explain returns the plan of the last captured statement, with sequential
// scans priced out: what remains a Seq Scan has no index to use.
func (c *queryCapture) explain(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET enable_seqscan")
	c.mu.Lock()
	sql, args := c.sql, c.args
	c.mu.Unlock()
	if sql == "" {
		t.Fatalf("no statement with %q was sent", c.marker)
	}
	rows, _ := conn.Query(ctx, "EXPLAIN "+sql, args...)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// Each form of a look-up reads an index, not the devices table: at a
// million devices a scan takes a second (migration 00014).
func TestLookupsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.DBURL(t))
	if err != nil {
		t.Fatal(err)
	}
	find := &queryCapture{marker: "-- name: FindDevices "}
	list := &queryCapture{marker: "-- name: ListDevices "}
	cfg.ConnConfig.Tracer = multiTracer{find, list}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool)
	for _, tt := range []struct {
		in      string
		indexes []string
	}{
		{in: callingID("12345678-0000-4000-8000-0000000000aa"), indexes: []string{"devices_pkey", "device_id_merges_pkey", "devices_device_key_idx"}},
		{in: "00:11:22:33:44:55", indexes: []string{"devices_mac_idx", "devices_listed_mac_idx"}},
		{in: "12345678-00…", indexes: []string{"devices_device_key_idx"}},
	} {
		l, err := device.ParseLookup(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.FindDevices(ctx, l); err != nil {
			t.Fatal(err)
		}
		plan := find.explain(t, pool)
		for _, idx := range tt.indexes {
			if !strings.Contains(plan, " "+idx+" ") {
				t.Errorf("find %s: the plan does not use %s:\n%s", tt.in, idx, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on devices") {
			t.Errorf("find %s: the plan scans devices:\n%s", tt.in, plan)
		}
	}
	if _, err := st.ListDevices(ctx, store.DeviceFilter{MAC: net.HardwareAddr{0, 0x11, 0x22, 0x33, 0x44, 0x55}}); err != nil {
		t.Fatal(err)
	}
	plan := list.explain(t, pool)
	for _, idx := range []string{"devices_mac_idx", "devices_listed_mac_idx"} {
		if !strings.Contains(plan, " "+idx+" ") {
			t.Errorf("list --mac: the plan does not use %s:\n%s", idx, plan)
		}
	}
}

type multiTracer []*queryCapture

func (m multiTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	for _, c := range m {
		ctx = c.TraceQueryStart(ctx, conn, d)
	}
	return ctx
}

func (m multiTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
