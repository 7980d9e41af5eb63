package syncrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// later moves every stored time back by d: the database as it would be d
// later, without waiting. The history (append-only) keeps its times.
func (e *env) later(t *testing.T, d time.Duration) {
	t.Helper()
	if err := pgadmin.ShiftTimes(context.Background(), e.pool, d, "device_sync_state", "sync_runs", "devices", "listing_trust"); err != nil {
		t.Fatal(err)
	}
}

// inHistory reports which of the changes are recorded with their values.
func inHistory(t *testing.T, e *env, field string, changes []webexsim.FieldChange, conv func(string) string) (found, missing []string) {
	t.Helper()
	for _, c := range changes {
		var ok bool
		err := e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM device_changes
			WHERE device_id = $1 AND field = $2 AND old_value IS NOT DISTINCT FROM nullif($3, '') AND new_value IS NOT DISTINCT FROM nullif($4, ''))`,
			c.ID, field, conv(c.Old), conv(c.New)).Scan(&ok)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			found = append(found, c.ID)
		} else {
			missing = append(missing, c.ID)
		}
	}
	return found, missing
}

func same(s string) string { return s }

// The day after a first sync, every device's details pass the max age at
// once; the changes the listing reveals must still come first. A run cut
// short (as a budget or a signal would) after a tenth of the fleet has
// recorded every revealed change; the refreshes wait. Before issue 16 the
// work list was stalest first whatever the reason, and such a run recorded
// about a tenth of the changes.
func TestRevealedChangesComeBeforeRefreshes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 600
	e := newEnv(t, envOpts{devices: n, clientRate: 300, clientBurst: 1})
	if sum := e.run(t, ctx, syncrun.Config{}); sum.Status != store.RunSucceeded || sum.Counts.OK != n {
		t.Fatalf("first sync: %s, %d ok: %v", sum.Status, sum.Counts.OK, sum.Err)
	}
	e.later(t, 25*time.Hour)
	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 3, IPChange: 0.02, MACChange: 0.01})

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sum := e.run(t, runCtx, syncrun.Config{BatchSize: 10, Concurrency: 4, OnProgress: func(p syncrun.Progress) {
		if p.Done >= n/10 {
			stop()
		}
	}})
	if sum.Status != store.RunInterrupted {
		t.Fatalf("the cut run ended %s, want interrupted: %v", sum.Status, sum.Err)
	}
	if sum.Counts.Skipped == 0 || sum.Listing.Due["max_age"] < n/2 {
		t.Fatalf("the run skipped %d devices with %d max-age refreshes due: the test did not cut the refreshes", sum.Counts.Skipped, sum.Listing.Due["max_age"])
	}
	_, missIP := inHistory(t, e, "ip", rep.IPChanged, same)
	_, missMAC := inHistory(t, e, "mac", rep.MACChanged, colonMAC)
	if len(missIP)+len(missMAC) > 0 {
		t.Errorf("of %d IP and %d MAC changes the listing revealed, these wait behind refreshes: ip %v, mac %v",
			len(rep.IPChanged), len(rep.MACChanged), missIP, missMAC)
	}
}

// After a first sync of N devices, hourly runs refresh a steady share of
// the fleet, never a herd: from the second day on, no run refreshes more
// than twice the average N × interval / max age, and no device's details
// are ever older than the max age plus one interval. Two days are
// simulated by moving the stored times an hour back before each run.
func TestRefreshesAreSpreadOverTheRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n, hours = 480, 48
	maxAge := syncrun.DefaultDetailMaxAge
	avg := float64(n) * time.Hour.Seconds() / maxAge.Seconds() // 20
	e := newEnv(t, envOpts{devices: n})
	cfg := syncrun.Config{ListingSample: -1}
	if sum := e.run(t, ctx, cfg); sum.Counts.OK != n {
		t.Fatalf("first sync: %d of %d ok", sum.Counts.OK, n)
	}
	refreshes := make([]int, hours+1)
	secondDay := 0
	for h := 1; h <= hours; h++ {
		e.later(t, time.Hour)
		e.sim.Churn(webexsim.ChurnSpec{Seed: int64(h), IPChange: 0.002})
		sum := e.run(t, ctx, cfg)
		if sum.Status != store.RunSucceeded || !sum.DetailsAgeKnown {
			t.Fatalf("hour %d: %s (details age known: %v): %v", h, sum.Status, sum.DetailsAgeKnown, sum.Err)
		}
		refreshes[h] = sum.Listing.Due["max_age"]
		if h >= 24 {
			secondDay += refreshes[h]
			if float64(refreshes[h]) > 2*avg {
				t.Errorf("hour %d refreshed %d devices, more than twice the average %.0f", h, refreshes[h], avg)
			}
		}
		// A few seconds of slack: the runs themselves take time.
		if bound := maxAge + time.Hour + time.Minute; sum.DetailsAge.Oldest > bound {
			t.Errorf("hour %d: the oldest details are %s old, over the max age plus one interval (%s)", h, sum.DetailsAge.Oldest, bound)
		}
	}
	// Every device is refreshed about once a day: not fewer (the bound
	// would break), not every hour.
	if secondDay < n/2 || secondDay > 2*n {
		t.Errorf("the second day refreshed %d devices in all, want about %d", secondDay, n)
	}
	t.Logf("refreshes per hour: %v", refreshes[1:])
}

// A history row says in which window its change happened: after the last
// time the job saw the old value, and at or before it noticed the new one.
// A trusted listing that shows the stored IP and MAC moves that time
// without a history row; a listing not trusted for a field does not.
// A deactivation the listing does not show reaches the history when the
// device's details are refreshed, within the max age, with the window
// reaching back to the last details that still had the old state.
func TestChangeWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 240
	e := newEnv(t, envOpts{devices: n, simCfg: func(c *webexsim.Config) { c.ListingHidesDeactivation = true }})
	cfg := syncrun.Config{ListingSample: -1}
	first := e.run(t, ctx, cfg)
	var windows int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM device_changes WHERE run_id = $1 AND old_value_seen_at IS NOT NULL`, first.RunID).Scan(&windows); err != nil {
		t.Fatal(err)
	}
	if windows != 0 {
		t.Errorf("the first sync wrote %d history rows with a window: no old value was ever seen", windows)
	}

	// Three hours on, a listing pass that finds nothing new confirms the
	// IPs and MACs: no history, new confirmation times.
	e.later(t, 3*time.Hour)
	e.run(t, ctx, cfg)
	type seen struct{ synced, confirmed *time.Time }
	state := func() map[string]seen {
		rows, _ := e.pool.Query(ctx, `SELECT device_id, last_synced_at, listing_confirmed_at FROM device_inventory`)
		m := map[string]seen{}
		var id string
		var s seen
		_, err := pgx.ForEachRow(rows, []any{&id, &s.synced, &s.confirmed}, func() error { m[id] = s; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	confirmed := state()
	var withBoth, confirmedNow int
	err := e.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ip IS NOT NULL AND mac IS NOT NULL),
		count(*) FILTER (WHERE listing_confirmed_at = listed_at) FROM device_inventory`).Scan(&withBoth, &confirmedNow)
	if err != nil {
		t.Fatal(err)
	}
	if confirmedNow != withBoth || withBoth == 0 {
		t.Errorf("an unchanged listing pass confirmed %d devices; want every one whose details have an IP and a MAC (%d)", confirmedNow, withBoth)
	}

	// The listing's IP field is not trusted in this org any more: the next
	// pass confirms nothing (and fetches every device of the org).
	if err := e.st.SetListingTrust(ctx, store.Trust{OrgKey: "", Field: "ip", Trusted: false, Since: time.Now(), Evidence: "test"}); err != nil {
		t.Fatal(err)
	}
	e.later(t, time.Hour)
	distrusted := e.run(t, ctx, cfg)
	if err := e.st.SetListingTrust(ctx, store.Trust{OrgKey: "", Field: "ip", Trusted: true, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if distrusted.Listing.Due["listing_distrusted"] != n {
		t.Errorf("with the IP field distrusted, %v due; want all %d listing_distrusted", distrusted.Listing.Due, n)
	}
	for id, s := range state() {
		was := confirmed[id]
		if was.confirmed == nil {
			continue
		}
		if s.confirmed == nil || !s.confirmed.Equal(was.confirmed.Add(-time.Hour)) {
			t.Errorf("%s: a distrusted listing moved the confirmation from %s to %v", id, was.confirmed.Add(-time.Hour), s.confirmed)
			break
		}
	}
	e.later(t, time.Hour)
	e.run(t, ctx, cfg) // trusted again: confirms

	// Changes: IP and MAC ones the listing reveals at once, deactivations
	// it does not show.
	e.later(t, time.Hour)
	before := state()
	listedStatus := func() map[string]string {
		rows, _ := e.pool.Query(ctx, `SELECT device_id, coalesce(connection_status, '') FROM devices`)
		m := map[string]string{}
		var id, st string
		if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error { m[id] = st; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	statusBefore := listedStatus()
	churnAt := time.Now()
	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 7, IPChange: 0.05, MACChange: 0.05, ActivationChange: 0.2})
	var deactivated []webexsim.FieldChange
	for _, c := range rep.ActivationChanged {
		if c.New == "deactivated" {
			deactivated = append(deactivated, c)
		}
	}
	if len(deactivated) == 0 {
		t.Fatal("the churn deactivated no device")
	}
	sum := e.run(t, ctx, cfg)
	type row struct {
		device, field string
		seenAt        *time.Time
		changedAt     time.Time
	}
	history := func(runID int64, field string) map[string]row {
		rows, _ := e.pool.Query(ctx, `SELECT device_id, field, old_value_seen_at, changed_at FROM device_changes WHERE run_id = $1 AND field = $2`, runID, field)
		m := map[string]row{}
		var r row
		_, err := pgx.ForEachRow(rows, []any{&r.device, &r.field, &r.seenAt, &r.changedAt}, func() error { m[r.device] = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for field, changes := range map[string][]webexsim.FieldChange{"ip": rep.IPChanged, "mac": rep.MACChanged} {
		got := history(sum.RunID, field)
		for _, c := range changes {
			r, ok := got[c.ID]
			if !ok {
				t.Errorf("%s change of %s not recorded by the pass that revealed it", field, c.ID)
				continue
			}
			b := before[c.ID]
			want := b.synced
			if b.confirmed != nil && b.confirmed.After(*want) {
				want = b.confirmed
			}
			if r.seenAt == nil || !r.seenAt.Equal(*want) {
				t.Errorf("%s change of %s: old value seen at %v, want the last confirmation %v", field, c.ID, r.seenAt, want)
			} else if !r.seenAt.Before(churnAt) || r.changedAt.Before(churnAt) {
				t.Errorf("%s change of %s: window (%s, %s] misses the change at %s", field, c.ID, r.seenAt, r.changedAt, churnAt)
			}
		}
	}
	statusAfter := listedStatus()
	for _, c := range deactivated {
		if statusAfter[c.ID] != statusBefore[c.ID] {
			t.Errorf("the listing showed the deactivation of %s (%s -> %s); the simulator should hide it", c.ID, statusBefore[c.ID], statusAfter[c.ID])
		}
	}

	// Hourly runs: every deactivation reaches the history within the max
	// age (plus one interval), each with its window around the change.
	maxAge := syncrun.DefaultDetailMaxAge
	for h := 1; h <= int((maxAge+time.Hour)/time.Hour); h++ {
		e.later(t, time.Hour)
		churnAt = churnAt.Add(-time.Hour) // the change, in the stored times' frame
		sum := e.run(t, ctx, cfg)
		for id, r := range history(sum.RunID, "activation_state") {
			if r.seenAt == nil || !r.seenAt.Before(churnAt) || r.changedAt.Before(churnAt) {
				t.Errorf("hour %d: deactivation of %s: window (%v, %s] misses the change at %s", h, id, r.seenAt, r.changedAt, churnAt)
			}
		}
	}
	if _, missing := inHistory(t, e, "activation_state", deactivated, same); len(missing) > 0 {
		t.Errorf("%d of %d deactivations the listing hid are not in the history after the max age plus an hour: %v",
			len(missing), len(deactivated), missing)
	}
}
