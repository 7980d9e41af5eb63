package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/scripts"
)

// checkStatus is one check's verdict. Only fail stops a run.
type checkStatus string

const (
	checkOK   checkStatus = "ok"
	checkWarn checkStatus = "warn" // a run works; something else (discover, --mac) will not
	checkFail checkStatus = "fail" // a run would fail
	checkSkip checkStatus = "skip" // could not be checked: an earlier check failed
)

type checkItem struct {
	Name   string      `json:"name"`
	Status checkStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

type checkReport struct {
	OK     bool        `json:"ok"`
	Checks []checkItem `json:"checks"`
}

func (r *checkReport) add(name string, st checkStatus, detail, fix string) {
	r.Checks = append(r.Checks, checkItem{Name: name, Status: st, Detail: detail, Fix: fix})
}

// checkTimeout bounds the whole check: it answers in seconds or says why not.
const checkTimeout = 60 * time.Second

func cmdCheck(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var o runOptions
	var format string
	fs := newFlagSet("check", "Checks whether \"run\" would work with this configuration (the same flags and\nenvironment), and says what to fix if not: the database is reachable, the\nschema is current (or which migrations migrate would apply), the role has the\nprivileges of run --no-migrate, Webex accepts the token, the token has the\nscopes (telephony_config_read: one device details request; devices_read, for\ndiscover and devices add --mac: a one-item listing), and the configured rate.\nExit 0 only when all that a run needs is there; the token is never shown.", stdout)
	o.register(fs)
	fs.StringVar(&format, "format", "text", "output: text (a checklist) or json")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if format != "text" && format != "json" {
		return usageErr("--format %q: want text or json", format)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()

	var rep checkReport
	webexErrs := o.webexOptions.validate(getenv)
	if errs := o.validate(getenv); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		rep.add("configuration", checkFail, strings.Join(msgs, "; "), "see "+Name+" run --help")
	} else {
		rep.add("configuration", checkOK, "every flag and variable is valid", "")
	}

	tracked, sampleID := checkDatabase(ctx, &rep, o)

	if len(webexErrs) > 0 {
		for _, n := range []string{"token", "scope telephony_config_read", "scope devices_read"} {
			rep.add(n, checkSkip, "the Webex configuration is not valid (see configuration)", "")
		}
	} else {
		checkWebex(ctx, &rep, o, getenv, sampleID)
	}
	checkRate(&rep, o, tracked)

	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == checkFail {
			rep.OK = false
		}
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeChecklist(stdout, rep)
	}
	if !rep.OK {
		return &exitcode.Error{Code: exitcode.Failed, Err: errSilent}
	}
	return nil
}

// checkDatabase checks the connection, the schema and the role's
// privileges. It returns the number of tracked devices (-1 if unknown) and
// one tracked device's ID for the details request ("" if none).
func checkDatabase(ctx context.Context, rep *checkReport, o runOptions) (int, string) {
	opts := o.openOptions(nil)
	opts.ConnectWithin = 5 * time.Second
	st, err := store.Open(ctx, o.DatabaseURL, opts)
	if err != nil {
		rep.add("database", checkFail, err.Error(), "check DATABASE_URL (or --database-url) and that PostgreSQL is up")
		rep.add("schema", checkSkip, "no database connection", "")
		rep.add("privileges", checkSkip, "no database connection", "")
		return -1, ""
	}
	defer st.Close()
	id, err := st.Identity(ctx)
	if err != nil {
		rep.add("database", checkFail, err.Error(), "")
		return -1, ""
	}
	user := id.Role
	via := ""
	if st.Pooler() == store.PoolerTransaction {
		via = ", through a transaction pooler"
	}
	rep.add("database", checkOK, fmt.Sprintf("reachable: PostgreSQL %s, database %s, role %s%s", id.ServerVersion, id.Database, user, via), "")

	pending, err := st.PendingMigrations(ctx)
	switch {
	case err != nil:
		rep.add("schema", checkFail, err.Error(), "")
	case len(pending) == 0:
		rep.add("schema", checkOK, "current: no migration pending", "")
	case o.NoMigrate:
		rep.add("schema", checkFail, fmt.Sprintf("%s pending (%s); run --no-migrate refuses to start", plural(len(pending), "migration"), strings.Join(pending, ", ")),
			fmt.Sprintf("run %q as the role that owns the schema", Name+" migrate"))
	case st.Pooler() == store.PoolerTransaction:
		rep.add("schema", checkFail, fmt.Sprintf("%s pending (%s); run cannot apply them through a transaction pooler", plural(len(pending), "migration"), strings.Join(pending, ", ")),
			fmt.Sprintf("run %q as the schema owner with a connection to PostgreSQL itself, not the pooler", Name+" migrate"))
	default:
		rep.add("schema", checkWarn, fmt.Sprintf("%s pending (%s): run applies them first, which needs the role that owns the schema",
			plural(len(pending), "migration"), strings.Join(pending, ", ")), fmt.Sprintf("run %q as the schema owner", Name+" migrate"))
	}

	missing, absent, err := missingPrivileges(ctx, st)
	switch {
	case err != nil:
		rep.add("privileges", checkFail, err.Error(), "")
	case len(missing) > 0:
		rep.add("privileges", checkFail, fmt.Sprintf("role %s lacks %s", user, strings.Join(missing, ", ")),
			fmt.Sprintf("as the schema owner: psql \"$OWNER_DATABASE_URL\" -v role=%s -f scripts/least-privilege.sql", user))
	case len(absent) > 0:
		rep.add("privileges", checkSkip, fmt.Sprintf("tables not created yet: %s (migrate first)", strings.Join(absent, ", ")), "")
	default:
		rep.add("privileges", checkOK, fmt.Sprintf("role %s has every grant of scripts/least-privilege.sql (what run --no-migrate needs)", user), "")
	}

	tracked, sample := -1, ""
	if len(absent) == 0 {
		if tracked, sample, err = st.TrackedSample(ctx); err != nil {
			tracked, sample = -1, ""
		}
		checkFreshness(ctx, rep, st, o)
	}
	return tracked, sample
}

// checkFreshness says how old the details of the scope's devices are now,
// against the max age: a list-guided run refreshes a share of the fleet
// every run, so the oldest should stay under the max age plus one run
// interval. Older details are a warning (the rate or the budget does not
// cover the fleet's refreshes), not a failure: a run still works.
func checkFreshness(ctx context.Context, rep *checkReport, st *store.Store, o runOptions) {
	a, err := st.DetailsAge(ctx, o.scope)
	switch {
	case err != nil:
		rep.add("freshness", checkWarn, err.Error(), "")
		return
	case a.WithDetails == 0:
		rep.add("freshness", checkOK, "no device has details yet: the first run fetches them all", "")
		return
	}
	detail := fmt.Sprintf("the oldest details are %s old, 99%% are under %s, for the %s with details (--detail-max-age %s)",
		roughAge(a.Oldest), roughAge(a.P99), plural(a.WithDetails, "device"), roughAge(o.DetailMaxAge))
	if a.Gone > 0 {
		detail += fmt.Sprintf("; %d gone from Webex", a.Gone)
	}
	// The bound a list-guided schedule keeps: the max age plus the time
	// between two runs (an hour when there is no history to tell).
	every, err := st.RecentRunInterval(ctx, store.Run{ID: math.MaxInt64, Scope: o.scope})
	if err != nil || every == 0 {
		every = time.Hour
	}
	if o.Detect == string(store.DetectListing) && a.Oldest > o.DetailMaxAge+every {
		rep.add("freshness", checkWarn, detail+": older than the max age, so changes the listing cannot show (a deactivation) wait longer than it promises",
			"run on schedule (each run refreshes a share of the fleet), and check that --rate and --max-duration cover the refreshes: "+Name+" report details_age")
		return
	}
	rep.add("freshness", checkOK, detail, "")
}

// missingPrivileges lists the grants of scripts/least-privilege.sql that
// the connected role lacks ("UPDATE on devices"), and the tables that do not
// exist yet.
func missingPrivileges(ctx context.Context, st *store.Store) (missing, absent []string, err error) {
	grants, err := scripts.Grants()
	if err != nil {
		return nil, nil, err
	}
	want := make([]store.Grant, len(grants))
	for i, g := range grants {
		want[i] = store.Grant{Table: g.Table, Privilege: g.Privilege}
	}
	lacked, absent, err := st.LackedGrants(ctx, want)
	for _, g := range lacked {
		missing = append(missing, g.Privilege+" on "+g.Table)
	}
	return missing, absent, err
}

// checkWebex sends the two requests that tell whether Webex accepts the
// token and which scopes it has: a one-item listing (devices_read) and one
// device details request (telephony_config_read).
func checkWebex(ctx context.Context, rep *checkReport, o runOptions, getenv Env, sampleID string) {
	o.MaxAttempts = min(o.MaxAttempts, 2)
	client, err := o.newClient(ctx, getenv, newLogger(logOptions{Format: "auto", Level: "error"}, io.Discard))
	if err != nil {
		rep.add("token", checkFail, err.Error(), "")
		rep.add("scope telephony_config_read", checkSkip, "no token", "")
		rep.add("scope devices_read", checkSkip, "no token", "")
		return
	}
	// One page of one item: the listing stops after it.
	errFirstPage := errors.New("first page")
	var listed string
	// Each request gets its share of the check's time, so that a Webex that
	// does not answer the first still leaves time to say so.
	lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
	defer lcancel()
	_, listErr := client.EachListPage(lctx, fetch.ListOptions{OrgID: o.OrgID, PageSize: 1}, func(p fetch.ListPage) error {
		if len(p.Items) > 0 {
			listed = p.Items[0].DetailsID()
		}
		return errFirstPage
	})
	if errors.Is(listErr, errFirstPage) {
		listErr = nil
	}
	id := sampleID
	if id == "" {
		id = listed
	}
	if id == "" {
		// No device to ask about: a well-formed ID of no device. Webex
		// answers 404 when the token may read device details.
		id = base64.StdEncoding.EncodeToString([]byte("ciscospark://us/CALLING_DEVICE/00000000-0000-4000-8000-000000000000"))
	}
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	_, detailsErr := client.Device(dctx, id, o.OrgID)

	// An answer that stops everything (fetch.StopsEverything) says it of
	// the token, whichever request met it.
	stop := listErr
	if !fetch.StopsEverything(stop) {
		stop = detailsErr
	}
	// answered: Webex gave an HTTP answer that says the token is good.
	answered := func(err error) bool {
		var fe *fetch.Error
		if err == nil {
			return true
		}
		if !errors.As(err, &fe) {
			return false
		}
		switch fe.Kind {
		case fetch.KindNotFound, fetch.KindForbidden, fetch.KindBadPayload, fetch.KindRequest:
			return true
		}
		return false
	}
	switch {
	case fetch.KindOf(stop) == fetch.KindUnauthorized:
		rep.add("token", checkFail, "Webex rejected the token (401): it is wrong, expired or revoked",
			"get a new token (an integration's or service app's access token) into WEBEX_TOKEN or the token file")
		rep.add("scope telephony_config_read", checkSkip, "the token was rejected", "")
		rep.add("scope devices_read", checkSkip, "the token was rejected", "")
		return
	case fetch.KindOf(stop) == fetch.KindCertificate:
		rep.add("token", checkFail, "the Webex API's TLS certificate is not trusted: "+stop.Error(),
			"check --api-url; behind a TLS-inspecting proxy, install its CA certificate on this host")
		rep.add("scope telephony_config_read", checkSkip, "Webex could not be used", "")
		rep.add("scope devices_read", checkSkip, "Webex could not be used", "")
		return
	case fetch.StopsEverything(stop) || (!answered(detailsErr) && !answered(listErr)):
		why := stop
		if why == nil {
			why = listErr
		}
		rep.add("token", checkFail, "no answer from Webex: "+why.Error(), "check --api-url, the network path and the proxy")
		rep.add("scope telephony_config_read", checkSkip, "Webex did not answer", "")
		rep.add("scope devices_read", checkSkip, "Webex did not answer", "")
		return
	}
	rep.add("token", checkOK, "accepted by Webex at "+o.APIURL, "")

	switch kind := fetch.KindOf(detailsErr); kind {
	case 0, fetch.KindNotFound:
		rep.add("scope telephony_config_read", checkOK, "a device details request was answered", "")
	case fetch.KindForbidden:
		rep.add("scope telephony_config_read", checkFail,
			"a device details request was refused (403): the token lacks spark-admin:telephony_config_read, or may not see the device's location",
			"use a token of a full, read-only or location admin with spark-admin:telephony_config_read")
	default:
		rep.add("scope telephony_config_read", checkFail, "a device details request failed: "+detailsErr.Error(), "")
	}
	switch kind := fetch.KindOf(listErr); {
	case listErr == nil:
		rep.add("scope devices_read", checkOK, "a one-item device listing was answered", "")
	case errors.Is(listErr, fetch.ErrListForbidden) || kind == fetch.KindForbidden:
		detail := "the device listing was refused (403): the token lacks spark-admin:devices_read; discover and devices add --mac need it"
		if o.Detect == string(store.DetectListing) {
			detail += ", and without it every run fetches every device's details instead of those the listing flags"
		}
		rep.add("scope devices_read", checkWarn, detail, "add the scope spark-admin:devices_read to the token")
	default:
		rep.add("scope devices_read", checkWarn, "the device listing failed: "+listErr.Error(), "")
	}
}

// checkRate says what the configured rate means for this fleet.
func checkRate(rep *checkReport, o runOptions, tracked int) {
	detail := fmt.Sprintf("%g requests/s to Webex (burst %d, %d in flight at most)", o.Rate, o.Burst, o.Concurrency)
	if tracked < 0 || o.Rate <= 0 {
		rep.add("rate", checkOK, detail, "")
		return
	}
	if tracked == 0 {
		rep.add("rate", checkWarn, detail+": no device is tracked yet, so a run has nothing to fetch",
			fmt.Sprintf("track the org's devices: %s discover, or %s devices add", Name, Name))
		return
	}
	need := time.Duration(float64(tracked) / o.Rate * float64(time.Second)).Round(time.Second)
	detail += fmt.Sprintf(": the %s tracked take at most about %s per run (every device's details; a list-guided run asks for fewer)", plural(tracked, "device"), need)
	switch {
	case o.MaxDuration > 0 && need > o.MaxDuration:
		rep.add("rate", checkWarn, detail+fmt.Sprintf(", more than --max-duration %s: each run syncs the stalest part", o.MaxDuration),
			"raise --rate if Webex allows it, or shard the fleet")
	default:
		rep.add("rate", checkOK, detail, "")
	}
}

func writeChecklist(w io.Writer, rep checkReport) {
	fmt.Fprintf(w, "Would %q work?\n\n", Name+" run")
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	for _, c := range rep.Checks {
		mark := map[checkStatus]string{checkOK: "[ok]  ", checkWarn: "[warn]", checkFail: "[FAIL]", checkSkip: "[skip]"}[c.Status]
		// A detail may quote what Webex or PostgreSQL said.
		fmt.Fprintf(w, "  %s %-*s  %s\n", mark, width, c.Name, report.EscapeForTerminal(c.Detail))
		if c.Fix != "" && c.Status != checkOK {
			fmt.Fprintf(w, "         %-*s  fix: %s\n", width, "", report.EscapeForTerminal(c.Fix))
		}
	}
	fails := 0
	for _, c := range rep.Checks {
		if c.Status == checkFail {
			fails++
		}
	}
	if rep.OK {
		fmt.Fprintln(w, "\nReady: a run would work.")
	} else {
		fmt.Fprintf(w, "\nNot ready: %s failed (fix the [FAIL] lines).\n", plural(fails, "check"))
	}
}
