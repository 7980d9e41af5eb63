package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/bymac"
	"github.com/wxc-inventory/wxc-sync/internal/device"
	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
	"github.com/wxc-inventory/wxc-sync/internal/deviceimport"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
	"github.com/wxc-inventory/wxc-sync/internal/report"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// stdin is what "devices import -" reads. A variable so that main's
// signature (args, env, stdout, stderr) need not change for one command.
var stdin io.Reader = os.Stdin

const devicesUsage = `Usage: NAME devices <add|import|remove|list> [flags] [arguments]

  add ID...          start tracking devices (validated Webex Calling device IDs)
  add --mac MAC...   start tracking devices by MAC, looked up in Webex
  import [FILE|-]    track the devices of a file (one ID per line, or CSV with a
                     device_id or mac and optionally an org_id column); - or
                     none: stdin
  remove ID...       stop tracking devices; their history stays
  list               list tracked devices, optionally by sync status or MAC
  show ID|UUID|MAC   one device: its inventory row, timeline and merged IDs, by
                     any identifier (also the short ID a table prints)

Run "NAME devices <subcommand> --help" for its flags.
`

func cmdDevices(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	usage := strings.ReplaceAll(devicesUsage, "NAME", Name)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErr("devices: no subcommand given")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "add":
		return cmdDevicesAdd(ctx, rest, getenv, stdout, stderr)
	case "import":
		return cmdDevicesImport(ctx, rest, getenv, stdout, stderr)
	case "remove":
		return cmdDevicesRemove(ctx, rest, getenv, stdout, stderr)
	case "list":
		return cmdDevicesList(ctx, rest, getenv, stdout, stderr)
	case "show":
		return cmdDevicesShow(ctx, rest, getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageErr("devices: unknown subcommand %q", sub)
	}
}

func cmdDevicesAdd(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o      dbOptions
		w      webexOptions
		macs   stringList
		dryRun bool
	)
	fs := newFlagSet("devices add [ID...] [--mac MAC...]", "Starts tracking devices, given by ID or by MAC address. Every ID is validated\nfirst (a Webex Calling device ID: base64 of\nciscospark://<region>/DEVICE|CALLING_DEVICE/<id>). A MAC, in any spelling\n(00:11:22:AA:BB:CC, 0011.22aa.bbcc, ...), is looked up in Webex with\nGET /v1/devices?mac= (scope spark-admin:devices_read) and the device found is\ntracked by its callingDeviceId (or id). One bad ID, or one MAC that no device\nor several devices have, and nothing is added. Adding a tracked device again\nchanges nothing. The Webex flags matter only with --mac.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	w.register(fs, "org_id to store with the devices, and the org whose devices --mac looks up\n(partner admins)")
	fs.Var(&macs, "mac", "a MAC address to look up and track (repeatable; also comma-separated)")
	fs.BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	ids, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if len(ids) == 0 && len(macs) == 0 {
		return usageErr("devices add: no device ID given, and no --mac")
	}
	var errs []error
	if w.OrgID != "" {
		if _, err := deviceid.ParseOrg(w.OrgID); err != nil {
			errs = append(errs, fmt.Errorf("--org-id: %w", err))
		}
	}
	var devs []store.NewDevice
	seen := map[deviceid.Key]bool{}
	for i, raw := range ids {
		id, err := deviceid.Parse(strings.TrimSpace(raw))
		if err != nil {
			if _, isMAC := device.ParseMAC(strings.TrimSpace(raw)); isMAC {
				err = fmt.Errorf("a MAC address, not a device ID: give it as --mac %s", strings.TrimSpace(raw))
			}
			errs = append(errs, fmt.Errorf("argument %d (%s): %w", i+1, shorten(raw), err))
			continue
		}
		if !seen[id.Key()] {
			seen[id.Key()] = true
			devs = append(devs, store.NewDevice{ID: id.Raw, OrgID: w.OrgID})
		}
	}
	var hws []net.HardwareAddr
	seenMAC := map[string]bool{}
	for _, list := range macs {
		for _, m := range strings.Split(list, ",") {
			hw, err := bymac.Parse(m)
			if err != nil {
				errs = append(errs, fmt.Errorf("--mac: %w", err))
				continue
			}
			if !seenMAC[hw.String()] {
				seenMAC[hw.String()] = true
				hws = append(hws, hw)
			}
		}
	}
	if len(hws) > 0 {
		errs = append(errs, w.validate(getenv)...)
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	if len(hws) > 0 {
		log := newLogger(logOptions{Format: "auto", Level: "warn"}, stderr)
		client, err := w.newClient(ctx, getenv, log)
		if err != nil {
			return err
		}
		found, err := lookUpMACs(ctx, client, w.OrgID, hws, stdout)
		if err != nil {
			return err
		}
		for _, m := range found {
			id, _ := deviceid.Parse(m.ID) // Find validated it
			if !seen[id.Key()] {
				seen[id.Key()] = true
				devs = append(devs, store.NewDevice{ID: m.ID, OrgID: w.OrgID})
			}
		}
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	changes, err := st.TrackDevices(ctx, devs, dryRun)
	if err != nil {
		return err
	}
	writeTrackChanges(stdout, changes, len(devs), dryRun)
	return nil
}

// lookUpMACs finds the device of every MAC, printing each one found; if
// any MAC matches no device or several, it says so of each and returns an
// error, so that nothing is added.
func lookUpMACs(ctx context.Context, client *fetch.Client, orgID string, macs []net.HardwareAddr, stdout io.Writer) ([]bymac.Match, error) {
	var (
		found []bymac.Match
		errs  []error
	)
	for _, hw := range macs {
		m, err := bymac.Find(ctx, client, orgID, hw)
		if err != nil {
			if lookupStops(ctx, err) {
				return nil, fmt.Errorf("MAC %s: %w", hw, err)
			}
			errs = append(errs, fmt.Errorf("MAC %s: %w", hw, err))
			continue
		}
		fmt.Fprintf(stdout, "MAC %s is %s\n", hw, m.Describe())
		found = append(found, m)
	}
	if len(errs) > 0 {
		errs = append(errs, errors.New("nothing added"))
		return nil, errors.Join(errs...)
	}
	return found, nil
}

// lookupStops says that a MAC look-up's failure is not the MAC's but the
// lookups': the command was stopped, the token may not list devices, or
// Webex cannot be used at all (fetch.StopsEverything). The other MACs
// would fail the same way, so none is tried.
func lookupStops(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, fetch.ErrListForbidden) || fetch.StopsEverything(err)
}

func cmdDevicesImport(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o           dbOptions
		w           webexOptions
		dryRun      bool
		skipInvalid bool
	)
	fs := newFlagSet("devices import [FILE|-]", "Tracks the devices listed in FILE (or stdin): one ID per line, or CSV with a\nheader naming device_id and/or mac, and optionally org_id. A CSV line with a mac\nand no device_id is looked up in Webex as devices add --mac does (the Webex\nflags matter only then). Blank lines and # comments are ignored. Every line is\nvalidated first and each rejected line reported with its number; with any\nrejected, nothing is imported unless --skip-invalid. The accepted lines go in\none transaction; importing a file again changes nothing.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	w.register(fs, "the org whose devices a mac line without org_id is looked up in (partner\nadmins); the org_id stored comes from the file")
	fs.BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	fs.BoolVar(&skipInvalid, "skip-invalid", false, "import the valid lines even if some are rejected (exit status 3)")
	files, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return usageErr("devices import: one file at most, got %d", len(files))
	}
	in, name := stdin, "stdin"
	if len(files) == 1 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			// The file the command line names cannot be used: configuration.
			return usageErr("devices import: %v", err)
		}
		defer f.Close()
		in, name = f, files[0]
	}
	parsed, err := parseImport(ctx, in, name)
	if err != nil {
		return err
	}
	// Every line is validated, its MAC looked up included, before anything
	// is added or refused: one round lists every rejected line.
	err = resolveImportMACs(ctx, &parsed, w, getenv, stdout, stderr)
	writeRejected(stderr, name, parsed)
	if err != nil {
		return err
	}
	if parsed.RejectedCount() > 0 && !skipInvalid {
		return fmt.Errorf("devices import: %s: %s rejected, nothing imported (fix them, or import the rest with --skip-invalid)",
			name, plural(parsed.RejectedCount(), "line"))
	}
	devs := make([]store.NewDevice, len(parsed.Entries))
	for i, e := range parsed.Entries {
		devs[i] = store.NewDevice{ID: e.ID, OrgID: e.OrgID}
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	var changes []store.TrackChange
	if len(devs) > 0 {
		if changes, err = st.TrackDevices(ctx, devs, dryRun); err != nil {
			return err
		}
	}
	writeTrackChanges(stdout, changes, len(devs), dryRun)
	if parsed.RejectedCount() > 0 {
		return &exitcode.Error{Code: exitcode.Partial, Err: fmt.Errorf("devices import: %s: %s rejected and not imported", name, plural(parsed.RejectedCount(), "line"))}
	}
	return nil
}

// parseImport reads an import file, stopping when ctx ends (SIGTERM) even
// while the read itself is blocked (a pipe whose writer never writes).
func parseImport(ctx context.Context, in io.Reader, name string) (deviceimport.Result, error) {
	type parsed struct {
		res deviceimport.Result
		err error
	}
	done := make(chan parsed, 1)
	go func() {
		res, err := deviceimport.Parse(ctx, in)
		done <- parsed{res, err}
	}()
	select {
	case p := <-done:
		if p.err != nil {
			if ctx.Err() != nil {
				return deviceimport.Result{}, &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf("devices import: %s: interrupted while reading; nothing imported", name)}
			}
			return deviceimport.Result{}, fmt.Errorf("devices import: %s: %w", name, p.err)
		}
		return p.res, nil
	case <-ctx.Done():
		// The reader may be blocked in a read; the process is about to
		// exit, which ends it.
		return deviceimport.Result{}, &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf("devices import: %s: interrupted while reading; nothing imported", name)}
	}
}

// writeRejected lists the rejected lines the result kept, and how many
// more there were: a file of a million bad lines is not a million lines of
// errors.
func writeRejected(w io.Writer, name string, parsed deviceimport.Result) {
	for _, r := range parsed.Rejected {
		fmt.Fprintf(w, "%s: %s\n", name, r)
	}
	if parsed.MoreRejected > 0 {
		lines := "lines"
		if parsed.MoreRejected == 1 {
			lines = "line"
		}
		fmt.Fprintf(w, "%s: … and %d more rejected %s (only the first %d are listed)\n", name, parsed.MoreRejected, lines, len(parsed.Rejected))
	}
}

// resolveImportMACs looks up the device of every mac line, setting its ID;
// a MAC that no device or several have rejects its line, as does one whose
// device another line already gives.
func resolveImportMACs(ctx context.Context, parsed *deviceimport.Result, w webexOptions, getenv Env, stdout, stderr io.Writer) error {
	var macLines int
	seen := map[deviceid.Key]int{}
	for _, e := range parsed.Entries {
		if e.MAC != nil {
			macLines++
		} else if id, err := deviceid.Parse(e.ID); err == nil {
			seen[id.Key()] = e.Line
		}
	}
	if macLines == 0 {
		return nil
	}
	if err := usageErrs(w.validate(getenv)); err != nil {
		return fmt.Errorf("devices import: %d lines give a mac to look up in Webex: %w", macLines, err)
	}
	client, err := w.newClient(ctx, getenv, newLogger(logOptions{Format: "auto", Level: "warn"}, stderr))
	if err != nil {
		return err
	}
	kept := parsed.Entries[:0]
	for _, e := range parsed.Entries {
		if e.MAC == nil {
			kept = append(kept, e)
			continue
		}
		org := e.OrgID
		if org == "" {
			org = w.OrgID
		}
		m, err := bymac.Find(ctx, client, org, e.MAC)
		if err != nil {
			if lookupStops(ctx, err) {
				return fmt.Errorf("devices import: line %d: mac %s: %w", e.Line, e.MAC, err)
			}
			parsed.Reject(deviceimport.Rejection{Line: e.Line, Reason: fmt.Sprintf("mac %s: %v", e.MAC, err)})
			continue
		}
		id, _ := deviceid.Parse(m.ID) // Find validated it
		if prev, dup := seen[id.Key()]; dup {
			parsed.Reject(deviceimport.Rejection{Line: e.Line, Reason: fmt.Sprintf("mac %s is %s, the device of line %d", e.MAC, m.Describe(), prev)})
			continue
		}
		seen[id.Key()] = e.Line
		fmt.Fprintf(stdout, "line %d: MAC %s is %s\n", e.Line, e.MAC, m.Describe())
		e.ID = m.ID
		kept = append(kept, e)
	}
	parsed.Entries = kept
	return nil
}

func writeTrackChanges(w io.Writer, changes []store.TrackChange, accepted int, dryRun bool) {
	added, orgs, aliases := 0, 0, 0
	verb := map[bool]string{false: "added", true: "would add"}[dryRun]
	for _, c := range changes {
		if c.Added {
			added++
			fmt.Fprintf(w, "%s %s\n", verb, c.DeviceID)
			continue
		}
		if c.TrackedAs != "" {
			// One device, one row: another spelling of a tracked ID is
			// that device, not a new one.
			aliases++
			fmt.Fprintf(w, "already tracked: %s is the same device as %s\n", c.DeviceID, c.TrackedAs)
		}
		if !equalOrg(c.OldOrgID, c.NewOrgID) {
			orgs++
			id := c.DeviceID
			if c.TrackedAs != "" {
				id = c.TrackedAs
			}
			fmt.Fprintf(w, "%s %s: org_id %s -> %s\n", map[bool]string{false: "changed", true: "would change"}[dryRun],
				id, orNone(c.OldOrgID), orNone(c.NewOrgID))
		}
	}
	if dryRun {
		fmt.Fprintf(w, "dry run, nothing changed: %s would be added, %s would change, %d already tracked\n",
			plural(added, "device"), plural(orgs, "org_id"), accepted-added)
		return
	}
	fmt.Fprintf(w, "%s added, %s changed, %d already tracked\n", plural(added, "device"), plural(orgs, "org_id"), accepted-added)
}

func equalOrg(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func orNone(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

// shorten keeps an echoed argument readable: an ID is long, a pasted blob
// longer.
func shorten(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

func cmdDevicesRemove(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o      dbOptions
		dryRun bool
	)
	fs := newFlagSet("devices remove ID...", "Stops tracking devices. Their history in device_changes stays, and the audit\nreports still show it. IDs are taken as given (not validated), so that a\nrow added by hand with a bad ID can be removed.", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	fs.BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	ids, err := fs.parseArgs(args, getenv)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageErr("devices remove: no device ID given")
	}
	for i, id := range ids {
		if id == "" {
			return usageErr("devices remove: argument %d is empty", i+1)
		}
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	removed, err := st.UntrackDevices(ctx, ids, dryRun)
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	verb := map[bool]string{false: "removed", true: "would remove"}[dryRun]
	for _, id := range removed {
		gone[id] = true
		fmt.Fprintf(stdout, "%s %s\n", verb, id)
	}
	notTracked := 0
	for _, id := range ids {
		if !gone[id] {
			notTracked++
			fmt.Fprintf(stderr, "not tracked: %s\n", id)
		}
	}
	if dryRun {
		fmt.Fprintf(stdout, "dry run, nothing changed: %s would be removed (history kept), %d not tracked\n", plural(len(removed), "device"), notTracked)
	} else {
		fmt.Fprintf(stdout, "%s removed (history kept), %d not tracked\n", plural(len(removed), "device"), notTracked)
	}
	return nil
}

var syncStatuses = []string{"pending", "ok", "not_found", "forbidden", "error"}

func cmdDevicesList(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var (
		o       dbOptions
		status  string
		failing bool
		format  string
		limit   int
		wide    bool
		mac     string
	)
	fs := newFlagSet("devices list", "Lists the tracked devices, by ID. --mac lists the devices with a MAC, in their\ndetails or in the listing: none is exit 1, several exit 2 (each listed).", stdout)
	o.register(fs)
	fs.validate = o.validate // the database flags, before any connection
	fs.StringVar(&status, "status", "", "only devices with these sync statuses, comma-separated: "+strings.Join(syncStatuses, ", "))
	fs.BoolVar(&failing, "failing", false, "only failing devices: the same as --status forbidden,error")
	fs.StringVar(&format, "format", "table", "output format: table, csv or json")
	fs.IntVar(&limit, "limit", 0, "show the first N devices only; 0: all")
	fs.BoolVar(&wide, "wide", false, "table: show IDs and long text whole")
	fs.StringVar(&mac, "mac", "", "only the devices with this MAC, in any spelling (00:11:22:AA:BB:CC,\n0011.22aa.bbcc, ...)")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	var errs []error
	var statuses []string
	if status != "" {
		for _, s := range strings.Split(status, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(syncStatuses, s) {
				errs = append(errs, fmt.Errorf("--status %q: want one or more of %s", s, strings.Join(syncStatuses, ", ")))
			}
			statuses = append(statuses, s)
		}
	}
	if failing {
		if status != "" {
			errs = append(errs, errors.New("--failing and --status: give one"))
		}
		statuses = []string{"forbidden", "error"}
	}
	if err := validFormat(format); err != nil {
		errs = append(errs, err)
	}
	if limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d: want 0 (all) or more", limit))
	}
	filter := store.DeviceFilter{Statuses: statuses}
	if mac != "" {
		hw, err := bymac.Parse(mac)
		if err != nil {
			errs = append(errs, fmt.Errorf("--mac: %w", err))
		}
		filter.MAC = hw
	}
	if err := usageErrs(errs); err != nil {
		return err
	}
	st, closeDB, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeDB()
	devs, err := st.ListDevices(ctx, filter)
	if err != nil {
		return err
	}
	res := report.Result{Columns: []string{"device_id", "org_id", "sync_status", "model", "ip", "mac", "last_synced_at", "last_error"},
		Kinds:     []report.Kind{report.KindText, report.KindText, report.KindText, report.KindText, report.KindText, report.KindText, report.KindTime, report.KindText},
		DropFirst: []string{"org_id", "last_synced_at", "model"}}
	for _, d := range devs {
		var synced *string
		if d.LastSyncedAt != nil {
			s := d.LastSyncedAt.UTC().Format("2006-01-02 15:04:05Z")
			synced = &s
		}
		id, st := d.DeviceID, d.SyncStatus
		res.Rows = append(res.Rows, []*string{&id, d.OrgID, &st, d.Model, d.IP, d.MAC, synced, d.LastError})
	}
	if filter.MAC != nil && len(devs) == 0 {
		// A look-up that found nothing says so, rather than an empty table.
		return fmt.Errorf("devices list --mac %s: no tracked device%s has MAC %s, in its details or in the listing",
			mac, statusNote(statuses), filter.MAC)
	}
	if err := res.WriteOutput(stdout, tableOutput(format, limit, wide, stdout)); err != nil {
		return err
	}
	if filter.MAC != nil && len(devs) > 1 {
		return &exitcode.Error{Code: exitcode.Usage, Err: fmt.Errorf("devices list --mac %s: %d devices have MAC %s (listed above); name one by its ID",
			mac, len(devs), filter.MAC)}
	}
	return nil
}

// statusNote qualifies "no tracked device" by the statuses asked for.
func statusNote(statuses []string) string {
	if len(statuses) == 0 {
		return ""
	}
	return " with sync status " + strings.Join(statuses, " or ")
}

func validFormat(f string) error {
	switch f {
	case "table", "csv", "json":
		return nil
	}
	return fmt.Errorf("--format %q: want table, csv or json", f)
}
