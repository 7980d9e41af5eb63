package syncrun_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

type trustRow struct {
	Field    string
	Trusted  bool
	Evidence *string
}

func readTrust(t *testing.T, e *env) map[string]trustRow {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT field, trusted, evidence FROM listing_trust WHERE org_key = '' ORDER BY field`)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trustRow])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]trustRow{}
	for _, r := range list {
		m[r.Field] = r
	}
	return m
}

type agreementRow struct {
	Field                                string
	Compared, Disagreed, Sampled, Missed int
}

func readAgreement(t *testing.T, e *env, runID int64) map[string]agreementRow {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `
		SELECT field, compared, disagreed, sampled, missed FROM listing_agreement WHERE run_id = $1 ORDER BY field`, runID)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[agreementRow])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]agreementRow{}
	for _, r := range list {
		m[r.Field] = r
	}
	return m
}

// ipChanges is the set of the history's IP changes, as "device old new".
func ipChanges(t *testing.T, e *env) map[string]bool {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `
		SELECT device_id || ' ' || coalesce(old_value, '') || ' ' || coalesce(new_value, '')
		FROM device_changes WHERE field = 'ip' AND old_value IS NOT NULL`)
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Behind a NAT the listing shows one address per site: every comparison of
// ip disagrees, the job stops trusting the listing's ip for the org (and
// says why, in the log and in listing_trust), fetches every device, and the
// history records every change of the phones' own IPs.
func TestListingBehindNATIsNotTrusted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 300
	e := newEnv(t, envOpts{devices: n, simCfg: func(c *webexsim.Config) { c.ListingNAT = true }})
	first := e.run(t, ctx, syncrun.Config{})
	if first.Status != store.RunSucceeded {
		t.Fatalf("first run: %s %v", first.Status, first.Err)
	}
	a := readAgreement(t, e, first.RunID)["ip"]
	if a.Compared < n*9/10 || a.Disagreed != a.Compared {
		t.Errorf("first run's ip agreement %+v: want (nearly) every device compared, every comparison disagreeing", a)
	}
	tr := readTrust(t, e)["ip"]
	if tr.Trusted || tr.Evidence == nil || !strings.Contains(*tr.Evidence, "comparisons disagreed") {
		t.Errorf("listing_trust ip = %+v, want untrusted with its evidence", tr)
	}
	if first.Listing.DistrustedAfter != 1 {
		t.Errorf("first run: %d orgs distrusted after its check, want the one org", first.Listing.DistrustedAfter)
	}
	if mac := readTrust(t, e)["mac"]; !mac.Trusted {
		t.Errorf("listing_trust mac = %+v: the MACs agree, the field stays trusted", mac)
	}
	if !strings.Contains(e.logs.String(), "no longer trusted") && !strings.Contains(e.logs.String(), "is not trusted for this org") {
		t.Errorf("no log line says the listing is not trusted")
	}

	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 5, IPChange: 0.05})
	second := e.run(t, ctx, syncrun.Config{})
	if second.Total != n || second.Listing.Confirmed != 0 {
		t.Errorf("second run: %d due %v, %d confirmed; an untrusted listing excuses nobody", second.Total, second.Listing.Due, second.Listing.Confirmed)
	}
	got := ipChanges(t, e)
	for _, fc := range rep.IPChanged {
		if fc.Old == "" || fc.New == "" {
			continue
		}
		if !got[fc.ID+" "+fc.Old+" "+fc.New] {
			t.Errorf("IP change of %s (%s -> %s) not in the history", fc.ID, fc.Old, fc.New)
		}
	}
	if r := readRun(t, e.pool, second.RunID); r.Status != "succeeded" {
		t.Errorf("second run %+v", r)
	}
}

// A listing that shows changes one pass late: the audit sample catches
// changes it missed (counted, logged at WARN with the field, recorded in
// the history as usual), the job stops trusting the field, and every
// change is in the history at the latest one pass after the job saw the
// evidence. Once the listing agrees again for three runs, it is trusted
// again.
func TestLaggingListingIsCaughtByTheSample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 400
	e := newEnv(t, envOpts{devices: n, simCfg: func(c *webexsim.Config) { c.ListingLag = 1 }})
	// A large sample, so that the test sees misses for certain.
	cfg := syncrun.Config{ListingSample: 0.5}
	if first := e.run(t, ctx, cfg); first.Status != store.RunSucceeded {
		t.Fatalf("first run: %s %v", first.Status, first.Err)
	}
	unchanged := e.run(t, ctx, cfg) // an unchanged pass: the listing's view is recorded
	if tr := readTrust(t, e)["ip"]; !tr.Trusted || unchanged.Listing.DistrustedAfter != 0 {
		t.Fatalf("ip distrusted before any lag: %+v, %d orgs distrusted", tr, unchanged.Listing.DistrustedAfter)
	}

	rep := e.sim.Churn(webexsim.ChurnSpec{Seed: 8, IPChange: 0.1})
	seen := e.run(t, ctx, cfg) // the listing still shows the old IPs
	a := readAgreement(t, e, seen.RunID)["ip"]
	if a.Missed == 0 || a.Sampled == 0 {
		t.Fatalf("pass during the lag: agreement %+v, want missed changes in the sample", a)
	}
	if !strings.Contains(e.logs.String(), "the device listing missed a change the audit sample found") ||
		!strings.Contains(e.logs.String(), `"field":"ip"`) {
		t.Errorf("no WARN line names a missed change and its field")
	}
	if tr := readTrust(t, e)["ip"]; tr.Trusted || seen.Listing.DistrustedAfter != 1 {
		t.Errorf("ip still trusted after %d missed changes (%+v; %d orgs distrusted after the run)", a.Missed, tr, seen.Listing.DistrustedAfter)
	}
	var missed int
	if err := e.pool.QueryRow(ctx, `SELECT missed_changes FROM sync_runs WHERE run_id = $1`, seen.RunID).Scan(&missed); err != nil || missed != a.Missed {
		t.Errorf("sync_runs.missed_changes = %d (%v), want %d", missed, err, a.Missed)
	}

	next := e.run(t, ctx, cfg) // one pass after the evidence
	if next.Listing.Confirmed != 0 {
		t.Errorf("pass after the evidence: %d confirmed; the distrusted listing excuses nobody", next.Listing.Confirmed)
	}
	got := ipChanges(t, e)
	for _, fc := range rep.IPChanged {
		if fc.Old == "" || fc.New == "" {
			continue
		}
		if !got[fc.ID+" "+fc.Old+" "+fc.New] {
			t.Errorf("one pass after the evidence, the IP change of %s (%s -> %s) is not in the history", fc.ID, fc.Old, fc.New)
		}
	}

	// The listing agrees again (nothing lags since the last walk): the
	// pass above was the first agreeing run, and the field is trusted
	// again after the third.
	last := next
	for good := 1; good < syncrun.TrustGoodRuns; good++ {
		if tr := readTrust(t, e)["ip"]; tr.Trusted {
			t.Fatalf("trusted again after %d good runs, want %d", good, syncrun.TrustGoodRuns)
		}
		last = e.run(t, ctx, cfg)
	}
	if tr := readTrust(t, e)["ip"]; !tr.Trusted || last.Listing.DistrustedAfter != 0 {
		t.Errorf("ip not trusted again after %d agreeing runs: %+v; %d orgs distrusted after the last", syncrun.TrustGoodRuns, tr, last.Listing.DistrustedAfter)
	}
	if !strings.Contains(e.logs.String(), "trusted again") {
		t.Errorf("no log line says the listing is trusted again")
	}
}
