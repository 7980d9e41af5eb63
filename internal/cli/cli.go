// Package cli is the command-line face of the job: subcommands, flags and
// environment, logging setup, and the mapping from outcomes to exit codes.
// cmd/sync only wires it to the process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// Name is the name the binary is built under. Not "sync", which would
// shadow the system command.
const Name = "wxc-sync"

func usageErr(format string, args ...any) error {
	return &exitcode.Error{Code: exitcode.Usage, Err: fmt.Errorf(format, args...)}
}

// errSilent marks an exit whose cause was already reported (a run summary
// logged, help printed): main prints nothing more.
var errSilent = errors.New("already reported")

// Message is err as main prints it: each line escaped for a terminal
// (an error may quote what a server sent), the lines kept apart.
func Message(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = report.EscapeForTerminal(l)
	}
	return strings.Join(lines, "\n")
}

// Silent reports whether main should not print err again.
func Silent(err error) bool { return errors.Is(err, errSilent) }

// Env is how the program reads its environment (os.Getenv in main, a map in
// tests).
type Env func(string) string

// Run executes the command line args (without the program name).
func Run(ctx context.Context, args []string, getenv Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, getenv, stdout, stderr)
	case "devices":
		return cmdDevices(ctx, rest, getenv, stdout, stderr)
	case "discover":
		return cmdDiscover(ctx, rest, getenv, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, getenv, stdout, stderr)
	case "prune-history":
		return cmdPruneHistory(ctx, rest, getenv, stdout, stderr)
	case "version", "-version", "--version":
		return cmdVersion(rest, stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return usageErr("unknown command %q", cmd)
	}
}

// topUsage names the program as PROG: "NAME" is a word of the text
// ("report NAME").
var topUsage = strings.ReplaceAll(`Usage: PROG <command> [flags]

Keeps a PostgreSQL inventory of Webex Calling devices, with an audit trail of
every change of activation state, IP and MAC.

Commands:
  demo             try it: sync a simulated Webex fleet into a demo database
  check            would a run work? database, schema, privileges, token, scopes,
                   rate, each with what to fix (exit 0 only when all is there)
  run              sync every tracked device once, then exit
  migrate          apply the database migrations
  migrate status   show which migrations are applied
  devices add ID...        track devices (validated Webex Calling device IDs)
  devices add --mac MAC... track devices by MAC address, found through Webex
  devices import [FILE|-]  track the devices of a file (IDs, or CSV with device_id or mac)
  devices remove ID...     stop tracking devices (their history stays)
  devices list             list tracked devices (--status, --failing, --mac)
  devices show ID|MAC|...  one device, its timeline and merged IDs, by any identifier
  discover         track the org's calling devices listed by GET /v1/devices
  report NAME      run a report (report --list shows them all)
  prune-history    delete history older than --older-than (the only way it leaves)
  version          show the version and VCS revision (also --version)

Run "PROG <command> --help" for a command's flags.

Exit codes: 0 all devices synced, 1 the run failed, 2 usage error,
3 some devices failed, 4 interrupted by a signal.
`, "PROG", Name)
