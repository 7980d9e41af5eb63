package syncrun_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// respell gives a device's ID in another of the spellings it reaches the
// job in: padding removed, the URL alphabet, or its DEVICE-type ID.
func respell(t *testing.T, id string, i int) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		t.Fatalf("respell %s: %v", id, err)
	}
	switch i % 4 {
	case 1:
		return base64.RawStdEncoding.EncodeToString(raw)
	case 2:
		return base64.URLEncoding.EncodeToString(raw)
	case 3:
		return base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "/CALLING_DEVICE/", "/DEVICE/", 1)))
	}
	return id
}

// runRecord is the listing's accounting in sync_runs.
type runRecord struct {
	Detect                          string
	ListingStatus                   *string
	Total, Listed, Confirmed        int
	ListingRequests, DetailsRequest int
}

func readRunRecord(t *testing.T, e *env, runID int64) runRecord {
	t.Helper()
	var r runRecord
	err := e.pool.QueryRow(context.Background(), `
		SELECT detect, listing_status, devices_total, devices_listed, devices_confirmed, listing_requests, details_requests
		FROM sync_runs WHERE run_id = $1`, runID).Scan(&r.Detect, &r.ListingStatus, &r.Total, &r.Listed, &r.Confirmed,
		&r.ListingRequests, &r.DetailsRequest)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sp(s string) *string { return &s }

// guided is a list-guided run without the audit sample, so that the
// tests of what the listing decides can count every request (the sample
// has its own tests, in trust_test.go).
var guided = syncrun.Config{ListingSample: -1}

// activating lists the tracked devices the listing shows activating: a
// list-guided pass fetches them every time (their activation may complete
// at any moment).
func activating(t *testing.T, e *env) map[string]bool {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT device_id FROM devices WHERE connection_status = 'activating'`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// The heart of list-guided syncing: after the first sync, a pass over an
// unchanged fleet sends only the listing's pages; after churn, it fetches
// exactly the devices whose listing entry moved, and the history records
// every IP and MAC change. The tracked IDs are in every spelling (padded or
// not, either alphabet, DEVICE type), a tenth of the listing's items lack
// callingDeviceId, and phones' MACs come without colons in the listing and
// the details alike while room devices' come with colons: none of it may
// look like a change.
func TestListGuidedPassFetchesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 400
	e := newEnv(t, envOpts{devices: n})
	batch := &pgx.Batch{}
	for i, id := range e.sim.IDs() {
		if s := respell(t, id, i); s != id {
			batch.Queue(`UPDATE devices SET device_id = $2 WHERE device_id = $1`, id, s)
		}
	}
	if err := e.pool.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}

	first := e.run(t, ctx, guided)
	if first.Status != store.RunSucceeded || first.Counts.OK != n || first.Listing.Due["never_synced"] != n {
		t.Fatalf("first run: %s, %d ok, due %v (%v)", first.Status, first.Counts.OK, first.Listing.Due, first.Err)
	}

	// Unchanged: the listing vouches for every device but the ones it
	// shows activating.
	act := len(activating(t, e))
	if act > n/10 {
		t.Fatalf("%d of %d devices activating: the simulator's mix changed, fix the test", act, n)
	}
	e.sim.ResetStats()
	second := e.run(t, ctx, guided)
	st := e.sim.Stats()
	pages := (n + 99) / 100
	if st.Details != int64(act) || st.List != int64(pages) || second.Listing.Confirmed != n-act || second.Listing.Due["activating"] != act || second.Total != act {
		t.Errorf("unchanged pass: %d details and %d listing requests, %d confirmed, %d due %v; want %d, %d, %d, %d activating",
			st.Details, st.List, second.Listing.Confirmed, second.Total, second.Listing.Due, act, pages, n-act, act)
	}
	want := runRecord{Detect: "listing", ListingStatus: sp("complete"), Total: act, Listed: n, Confirmed: n - act,
		ListingRequests: pages, DetailsRequest: act}
	if diff := cmp.Diff(want, readRunRecord(t, e, second.RunID)); diff != "" {
		t.Errorf("sync_runs of the unchanged pass (-want +got):\n%s", diff)
	}

	// Churn: new IPs and MACs, connection flips, firmware upgrades.
	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 11, IPChange: 0.05, MACChange: 0.03, StatusChange: 0.02, SoftwareChange: 0.1})
	var wantChanges []change
	fetched := map[string]bool{}
	stored := map[string]string{} // simulator ID -> tracked spelling
	for i, id := range e.sim.IDs() {
		stored[id] = respell(t, id, i)
	}
	for _, fc := range rep.IPChanged {
		fetched[fc.ID] = true
		wantChanges = append(wantChanges, change{stored[fc.ID], "ip", str(fc.Old), str(fc.New)})
	}
	for _, fc := range rep.MACChanged {
		fetched[fc.ID] = true
		wantChanges = append(wantChanges, change{stored[fc.ID], "mac", str(colonMAC(fc.Old)), str(colonMAC(fc.New))})
	}
	for _, fc := range rep.StatusChanged {
		fetched[fc.ID] = true // fetched, but its details did not change
	}
	sortChanges(wantChanges)
	e.sim.ResetStats()
	third := e.run(t, ctx, guided)
	if third.Status != store.RunSucceeded {
		t.Fatalf("pass after churn: %s %v", third.Status, third.Err)
	}
	// And those the listing now shows activating.
	for id := range activating(t, e) {
		for sim, tracked := range stored {
			if tracked == id {
				fetched[sim] = true
			}
		}
	}
	if diff := cmp.Diff(wantChanges, readChanges(t, e.pool, third.RunID)); diff != "" {
		t.Errorf("history after churn (-want +got):\n%s", diff)
	}
	st = e.sim.Stats()
	if st.Details != int64(len(fetched)) || third.Total != len(fetched) || third.Listing.Confirmed != n-len(fetched) {
		t.Errorf("pass after churn: %d details requests, %d due %v, %d confirmed; want %d, %d, %d",
			st.Details, third.Total, third.Listing.Due, third.Listing.Confirmed, len(fetched), len(fetched), n-len(fetched))
	}
	// The listing's own fields reached the inventory: every upgrade.
	for _, fc := range rep.SoftwareChanged {
		var sw *string
		if err := e.pool.QueryRow(ctx, `SELECT software FROM devices WHERE device_id = $1`, stored[fc.ID]).Scan(&sw); err != nil {
			t.Fatal(err)
		}
		if sw == nil || *sw != fc.New {
			t.Errorf("device %s software = %v, want %q", fc.ID, sw, fc.New)
		}
	}
	rec := readRunRecord(t, e, third.RunID)
	if rec.DetailsRequest != len(fetched) || rec.ListingRequests != pages || rec.Confirmed != n-len(fetched) {
		t.Errorf("sync_runs after churn: %+v", rec)
	}
}

// What the listing cannot vouch for is fetched: a device that failed last
// time, one whose details are older than the max age, one gone from the
// listing (whose details then say it is gone, and which later passes leave
// alone until the max age).
func TestListGuidedPassFetchesWhatTheListingCannotVouchFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOpts{devices: 200})
	ids := e.sim.IDs()
	if first := e.run(t, ctx, guided); first.Counts.OK != 200 {
		t.Fatalf("first run: %d ok", first.Counts.OK)
	}
	act := len(activating(t, e))
	// 0 to 3: details two days old (0 will fail when fetched); 4: gone.
	if _, err := e.pool.Exec(ctx, `UPDATE device_sync_state SET last_synced_at = now() - interval '2 days' WHERE device_id = ANY ($1)`, ids[0:4]); err != nil {
		t.Fatal(err)
	}
	e.sim.SetFault(ids[0], webexsim.Fault{Kind: webexsim.FaultInternal})
	e.sim.Remove(ids[4])

	second := e.run(t, ctx, syncrun.Config{DetailMaxAge: 24 * time.Hour, ListingSample: -1})
	wantDue := map[string]int{"max_age": 4, "not_listed": 1}
	withActivating := func(m map[string]int) map[string]int {
		if act > 0 {
			m["activating"] = act
		}
		return m
	}
	wantDue = withActivating(wantDue)
	if diff := cmp.Diff(wantDue, second.Listing.Due); diff != "" || second.Counts.NotFound != 1 || second.Counts.Failed != 1 {
		t.Errorf("second pass: due (-want +got):\n%s; %d not found, %d failed", diff, second.Counts.NotFound, second.Counts.Failed)
	}
	e.sim.ClearFault(ids[0])
	third := e.run(t, ctx, guided)
	wantDue = withActivating(map[string]int{"failed": 1})
	if diff := cmp.Diff(wantDue, third.Listing.Due); diff != "" || third.Listing.Confirmed != 200-act-1 {
		t.Errorf("third pass: due (-want +got):\n%s; %d confirmed, want %d (the gone device waits for the max age: no request)", diff, third.Listing.Confirmed, 200-act-1)
	}
}

// A listing the token may not read (403), or one whose third page keeps
// failing, excuses nobody: every device's details are fetched, as without
// the listing, and the run says why in one warning.
func TestListingFailureFallsBackToEveryDevice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		fault  webexsim.Fault
		status syncrun.ListingStatus
		warn   string
	}{
		{"forbidden", webexsim.Fault{Kind: webexsim.FaultForbidden}, syncrun.ListingForbidden, "the token may not list"},
		{"page 3 fails", webexsim.Fault{Kind: webexsim.FaultInternal, Skip: 2}, syncrun.ListingIncomplete, "could not be read whole"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOpts{devices: 300})
			if first := e.run(t, ctx, syncrun.Config{}); first.Status != store.RunSucceeded {
				t.Fatalf("first run: %s %v", first.Status, first.Err)
			}
			e.sim.SetListFault(tt.fault)
			e.sim.ResetStats()
			sum := e.run(t, ctx, syncrun.Config{})
			st := e.sim.Stats()
			if sum.Status != store.RunSucceeded || sum.Listing.Status != tt.status || sum.Total != 300 ||
				sum.Listing.Confirmed != 0 || st.Details != 300 {
				t.Errorf("status %s, listing %s, %d due %v, %d confirmed, %d details requests; want succeeded, %s, all 300 fetched",
					sum.Status, sum.Listing.Status, sum.Total, sum.Listing.Due, sum.Listing.Confirmed, st.Details, tt.status)
			}
			if n := strings.Count(e.logs.String(), tt.warn); n != 1 {
				t.Errorf("%d warnings %q, want 1", n, tt.warn)
			}
			if rec := readRunRecord(t, e, sum.RunID); rec.ListingStatus == nil || *rec.ListingStatus != string(tt.status) {
				t.Errorf("sync_runs listing_status = %v, want %s", rec.ListingStatus, tt.status)
			}
		})
	}
}

// --detect none: no listing request, every device's details.
func TestDetectNoneFetchesEveryDevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOpts{devices: 150})
	e.run(t, ctx, syncrun.Config{})
	e.sim.ResetStats()
	sum := e.run(t, ctx, syncrun.Config{Detect: store.DetectNone})
	st := e.sim.Stats()
	if st.List != 0 || st.Details != 150 || sum.Total != 150 || sum.Listing.Status != syncrun.ListingOff {
		t.Errorf("%d listing and %d details requests, %d due, listing %q; want 0, 150, 150, off", st.List, st.Details, sum.Total, sum.Listing.Status)
	}
	if rec := readRunRecord(t, e, sum.RunID); rec.Detect != "none" || rec.ListingStatus != nil || rec.DetailsRequest != 150 {
		t.Errorf("sync_runs: %+v", rec)
	}
}
