package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/wxc-inventory/wxc-sync/internal/discover"
	"github.com/wxc-inventory/wxc-sync/internal/fetch"
)

// discoverOptions are the flags of "discover". The Webex ones have the
// names, variables and defaults of "run".
type discoverOptions struct {
	dbOptions
	logOptions
	webexOptions
	Type      string
	PageSize  int
	Prune     bool
	DryRun    bool
	NoMigrate bool
	List      bool
}

func (o *discoverOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	o.webexOptions.register(fs, "orgId to list (partner admins); also the org_id of the devices added,\nand the org whose tracked devices are compared with the listing")
	fs.StringVar(&o.Type, "type", "", "list only devices of this type (phone, ...); empty: every type")
	fs.IntVar(&o.PageSize, "page-size", fetch.DefaultPageSize, "devices per listing page (max), 1 to 1000")
	fs.BoolVar(&o.Prune, "prune", false, "remove tracked devices of the org that the listing no longer returns\n(their history stays); without it they are only reported")
	fs.BoolVar(&o.DryRun, "dry-run", false, "show what would change, change nothing (the discovery is still recorded)")
	fs.BoolVar(&o.NoMigrate, "no-migrate", false, "do not apply pending migrations; fail if any are pending")
	fs.BoolVar(&o.List, "list", false, fmt.Sprintf("print every device added, removed or not listed; without it, the first %d of each\nand how many more (a first discovery of a large org adds thousands)", discoverListed))
	o.logOptions.register(fs)
}

func (o *discoverOptions) validate(getenv Env) []error {
	errs := append(o.dbOptions.validate(), o.logOptions.validate()...)
	errs = append(errs, o.webexOptions.validate(getenv)...)
	if o.PageSize < 1 || o.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("--page-size %d: want 1 to 1000", o.PageSize))
	}
	return errs
}

func cmdDiscover(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	var o discoverOptions
	fs := newFlagSet("discover", "Lists the org's devices (GET /v1/devices, scope spark-admin:devices_read),\nfollowing every next link, and tracks the devices not tracked yet, by\ncallingDeviceId (or id for an item without one). A listed device matches a\ntracked one by the UUID inside its ID, whatever the spelling. Tracked\ndevices of the org that are no longer listed are reported, and removed\nwith --prune. If any page fails after its retries, nothing changes. Every\ndiscovery is recorded in discovery_runs.", stdout)
	o.register(fs)
	fs.validate = func() []error { return o.validate(getenv) }
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	log := newLogger(o.logOptions, stderr)
	client, err := o.newClient(ctx, getenv, log)
	if err != nil {
		return err
	}
	st, err := openDB(ctx, o.dbOptions, schemaMode(o.NoMigrate), log)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := discover.Run(ctx, st, client, discover.Config{
		OrgID: o.OrgID, Type: o.Type, PageSize: o.PageSize, Prune: o.Prune, DryRun: o.DryRun, Logger: log,
	})
	if err != nil {
		return err
	}
	would := func(verb, dry string) string {
		if o.DryRun {
			return dry
		}
		return verb
	}
	limit := discoverListed
	if o.List {
		limit = -1
	}
	printSome(stdout, sum.Added, limit, would("added", "would add")+" %s\n", would("added", "would be added"))
	removed := map[string]bool{}
	for _, id := range sum.Removed {
		removed[id] = true
	}
	printSome(stdout, sum.Removed, limit, would("removed", "would remove")+" %s (not listed any more; history kept)\n", would("removed", "would be removed"))
	var unlisted []string
	for _, id := range sum.Unlisted {
		if !removed[id] {
			unlisted = append(unlisted, id)
		}
	}
	printSome(stdout, unlisted, limit, "not listed %s (tracked; --prune removes it)\n", "tracked and not listed")
	for _, r := range sum.Rejected {
		fmt.Fprintf(stderr, "rejected device ID %s: %s\n", shorten(r.CallingDeviceID), r.Reason)
	}
	prefix := ""
	if o.DryRun {
		prefix = "dry run, nothing changed: "
	}
	fmt.Fprintf(stdout, "%sdiscovery %d: %s listed on %s, %s; %s, %d not listed, %d removed, %d rejected\n",
		prefix, sum.DiscoveryID, plural(sum.Listed, "device"), plural(sum.Pages, "page"),
		plural(sum.Calling, "calling device"), plural(len(sum.Added), "device")+" "+would("added", "would be added"),
		len(sum.Unlisted), len(sum.Removed), len(sum.Rejected))
	return nil
}

// discoverListed is how many devices of each kind discover names without
// --list.
const discoverListed = 20

// printSome prints line (with the ID for %s) for the first limit ids (all
// when limit < 0), then one line for the rest.
func printSome(w io.Writer, ids []string, limit int, line, what string) {
	for i, id := range ids {
		if limit >= 0 && i == limit {
			fmt.Fprintf(w, "... and %d more %s (--list prints every one)\n", len(ids)-limit, what)
			return
		}
		fmt.Fprintf(w, line, id)
	}
}
