package discover_test

import (
	"context"
	"encoding/base64"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/discover"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const token = "discover-test-token-123456"

func newSim(t *testing.T, devices int) (*webexsim.Sim, *fetch.Client) {
	t.Helper()
	sim, err := webexsim.New(webexsim.Config{Devices: devices, Seed: 21, Tokens: []string{token}, DropFiltersOnNext: true})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	c, err := fetch.NewClient(fetch.Options{BaseURL: base, Tokens: fetch.StaticToken(token),
		Limiter: rate.NewLimiter(rate.Inf, 1), MaxAttempts: 2, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func tracked(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `SELECT device_id FROM devices ORDER BY device_id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// discoveryRow is a discovery_runs row without its times.
type discoveryRow struct {
	Status                                                     string
	OrgID                                                      *string
	DryRun, Prune                                              bool
	Pages, Listed, Calling, Rejected, Added, Unlisted, Removed int
	Error                                                      *string
}

func lastDiscovery(t *testing.T, pool *pgxpool.Pool) discoveryRow {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `
		SELECT status, org_id, dry_run, prune, pages, devices_listed, calling_listed, rejected,
		       added, unlisted, removed, error
		FROM discovery_runs ORDER BY discovery_id DESC LIMIT 1`)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[discoveryRow])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sorted(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

func fakeID(n string) string {
	return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/ffffffff-0000-4000-8000-00000000000" + n))
}

func TestDiscoverAddsReportsAndPrunes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, client := newSim(t, 120)
	pool := pgtest.DB(t)
	st := store.New(pool)
	gone := fakeID("1")
	// A device tracked before, no longer listed, with history that must
	// outlive it; and a device of another org, out of scope.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO devices (device_id) VALUES ($1)`, []any{gone}},
		{`INSERT INTO devices (device_id, org_id) VALUES ($1, 'OTHER')`, []any{fakeID("2")}},
		{`INSERT INTO sync_runs DEFAULT VALUES`, nil},
		{`INSERT INTO device_changes (device_id, run_id, field, new_value) VALUES ($1, 1, 'ip', '10.1.1.1')`, []any{gone}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	cfg := discover.Config{PageSize: 50}
	want := sorted(detailsIDs(sim))

	sum, err := discover.Run(ctx, st, client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.DiscoveryResult{Added: want, Unlisted: []string{gone}}, sum.DiscoveryResult, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("first discovery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(discoveryRow{Status: "succeeded", Pages: 3, Listed: 120, Calling: 120, Added: 120, Unlisted: 1}, lastDiscovery(t, pool)); diff != "" {
		t.Errorf("discovery_runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(append(want, gone, fakeID("2"))), tracked(t, pool)); diff != "" {
		t.Errorf("tracked after discovery (-want +got):\n%s", diff)
	}

	// The same listing again adds nothing.
	sum, err = discover.Run(ctx, st, client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Added) != 0 || len(sum.Removed) != 0 {
		t.Errorf("second discovery added %d, removed %d", len(sum.Added), len(sum.Removed))
	}

	// A dry run of --prune says what it would remove, and removes nothing.
	cfg.Prune, cfg.DryRun = true, true
	if sum, err = discover.Run(ctx, st, client, cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{gone}, sum.Removed); diff != "" {
		t.Errorf("dry-run prune (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(discoveryRow{Status: "succeeded", DryRun: true, Prune: true, Pages: 3, Listed: 120, Calling: 120, Unlisted: 1, Removed: 1}, lastDiscovery(t, pool)); diff != "" {
		t.Errorf("dry-run discovery_runs (-want +got):\n%s", diff)
	}
	if got := len(tracked(t, pool)); got != 122 {
		t.Errorf("a dry run changed the inventory: %d devices", got)
	}

	// --prune removes it; its history stays.
	cfg.DryRun = false
	if sum, err = discover.Run(ctx, st, client, cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sorted(append(want, fakeID("2"))), tracked(t, pool)); diff != "" {
		t.Errorf("tracked after prune (-want +got):\n%s", diff)
	}
	var history int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM device_changes WHERE device_id = $1`, gone).Scan(&history); err != nil || history != 1 {
		t.Errorf("history of the pruned device: %d rows (err %v), want 1", history, err)
	}
}

func TestDiscoverFailedPageChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, client := newSim(t, 120)
	pool := pgtest.DB(t)
	st := store.New(pool)
	before := []string{fakeID("1")}
	if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id) VALUES ($1)`, before[0]); err != nil {
		t.Fatal(err)
	}
	sim.SetListFault(webexsim.Fault{Kind: webexsim.FaultInternal, Skip: 1}) // page 2 onwards, every attempt
	_, err := discover.Run(ctx, st, client, discover.Config{PageSize: 50, Prune: true})
	if err == nil || !strings.Contains(err.Error(), "changed nothing") || !strings.Contains(err.Error(), "page 2") {
		t.Fatalf("err = %v, want a failed page 2 that changed nothing", err)
	}
	if diff := cmp.Diff(before, tracked(t, pool)); diff != "" {
		t.Errorf("tracked after a failed discovery (-want +got):\n%s", diff)
	}
	got := lastDiscovery(t, pool)
	if got.Status != "failed" || got.Error == nil || !strings.Contains(*got.Error, "HTTP 500") || got.Added+got.Removed != 0 {
		t.Errorf("discovery_runs = %+v, want failed with the HTTP 500", got)
	}
}

// detailsIDs are the IDs discovery adds for the simulator's devices:
// callingDeviceId, or id for the items without one.
func detailsIDs(sim *webexsim.Sim) []string {
	var out []string
	for _, d := range sim.Devices() {
		if d.CallingIDOmitted {
			out = append(out, d.ListID)
		} else {
			out = append(out, d.ID)
		}
	}
	return out
}

// fakeLister returns a fixed listing on one page.
type fakeLister []device.Listed

func (f fakeLister) EachListPage(_ context.Context, _ fetch.ListOptions, fn func(fetch.ListPage) error) (fetch.ListStats, error) {
	return fetch.ListStats{Pages: 1, Items: len(f)}, fn(fetch.ListPage{Number: 1, Items: f})
}

func TestDiscoverValidatesListedIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	people := base64.StdEncoding.EncodeToString([]byte("ciscospark://us/PEOPLE/ffffffff-0000-4000-8000-000000000001"))
	unpadded := strings.TrimRight(fakeID("1"), "=")
	l := fakeLister{
		{ID: "L1", CallingDeviceID: fakeID("1")},
		{ID: "L1b", CallingDeviceID: unpadded}, // the same device, spelt differently
		{ID: "L2", CallingDeviceID: people},
		{ID: "L3"}, // no callingDeviceId, and id is no device ID either
		{},         // nothing to name it by
	}
	sum, err := discover.Run(ctx, store.New(pool), l, discover.Config{OrgID: "ORG"})
	if err != nil {
		t.Fatal(err)
	}
	want := discover.Summary{DiscoveryID: sum.DiscoveryID, Pages: 1, Listed: 5, Calling: 1,
		Rejected: []discover.Rejected{
			{CallingDeviceID: people, Reason: "wrong kind of Webex ID: it is a PEOPLE ID (ciscospark://us/PEOPLE/ffffffff-0000-4000-8000-000000000001), want DEVICE or CALLING_DEVICE"},
			{CallingDeviceID: "L3", Reason: "not a Webex ID: not base64"},
		},
		DiscoveryResult: store.DiscoveryResult{Added: []string{fakeID("1")}}}
	if diff := cmp.Diff(want, sum, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var org string
	if err := pool.QueryRow(ctx, `SELECT org_id FROM devices WHERE device_id = $1`, fakeID("1")).Scan(&org); err != nil || org != "ORG" {
		t.Errorf("org_id = %q (err %v), want ORG", org, err)
	}
}

func TestDiscoverRefusesToPruneOnEmptyListing(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	if _, err := pool.Exec(context.Background(), `INSERT INTO devices (device_id) VALUES ($1)`, fakeID("1")); err != nil {
		t.Fatal(err)
	}
	_, err := discover.Run(context.Background(), store.New(pool), fakeLister{}, discover.Config{Prune: true})
	if err == nil || !strings.Contains(err.Error(), "no calling devices") {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{fakeID("1")}, tracked(t, pool)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
}

// Items match tracked devices by the UUID inside the ID: a device tracked
// under one spelling and listed under another (or only by its DEVICE id,
// the item lacking callingDeviceId) is neither added again nor pruned.
func TestDiscoverMatchesByUUID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	uuid := func(n string) string { return "ffffffff-0000-4000-8000-00000000000" + n }
	calling := func(n string) string {
		return base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/" + uuid(n)))
	}
	dev := func(n string) string {
		return base64.RawURLEncoding.EncodeToString([]byte("ciscospark://us/DEVICE/" + strings.ToUpper(uuid(n))))
	}
	// Tracked: 1 by its calling ID (listed without callingDeviceId), 2 by
	// its unpadded calling ID, 3 by its DEVICE ID (listed by its calling
	// ID), 4 not listed at all. (A device is one row whatever the spelling:
	// it cannot be tracked twice.)
	trackedIDs := []string{calling("1"), strings.TrimRight(calling("2"), "="), dev("3"), calling("4")}
	for _, id := range trackedIDs {
		if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id) VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	l := fakeLister{
		{ID: dev("1")},
		{ID: dev("2"), CallingDeviceID: calling("2")},
		{ID: dev("3"), CallingDeviceID: calling("3")},
		{ID: dev("5")}, // new, and only a DEVICE id to fetch it by
	}
	sum, err := discover.Run(ctx, store.New(pool), l, discover.Config{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	want := store.DiscoveryResult{Added: []string{dev("5")}, Unlisted: []string{calling("4")}, Removed: []string{calling("4")}}
	if diff := cmp.Diff(want, sum.DiscoveryResult, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if sum.Calling != 4 {
		t.Errorf("calling = %d, want 4 distinct devices", sum.Calling)
	}
	wantTracked := sorted([]string{calling("1"), strings.TrimRight(calling("2"), "="), dev("3"), dev("5")})
	if diff := cmp.Diff(wantTracked, tracked(t, pool)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
}

// Over real HTTP: a device tracked by its calling ID whose listing item has
// no callingDeviceId (only its DEVICE id) is neither added again nor pruned.
func TestDiscoverPruneKeepsItemsWithoutCallingDeviceID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, client := newSim(t, 120)
	pool := pgtest.DB(t)
	var omitted []string
	for _, d := range sim.Devices() {
		if d.CallingIDOmitted {
			omitted = append(omitted, d.ID)
		}
	}
	if len(omitted) == 0 {
		t.Fatal("no item without callingDeviceId among 120: the test covers nothing")
	}
	for _, id := range omitted {
		if _, err := pool.Exec(ctx, `INSERT INTO devices (device_id) VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := discover.Run(ctx, store.New(pool), client, discover.Config{PageSize: 50, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Unlisted) != 0 || len(sum.Removed) != 0 || len(sum.Added) != 120-len(omitted) {
		t.Errorf("added %d, unlisted %v, removed %v; want %d added and nothing unlisted", len(sum.Added), sum.Unlisted, sum.Removed, 120-len(omitted))
	}
	var want []string
	for _, d := range sim.Devices() {
		want = append(want, d.ID) // every one by its calling ID: the omitted ones were tracked so
	}
	if diff := cmp.Diff(sorted(want), tracked(t, pool)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
}
