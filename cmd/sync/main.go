// Command sync (built as wxc-sync) keeps a PostgreSQL inventory of Webex
// Calling devices. See the README for its commands and docs/CONFIGURATION.md for its exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxc-inventory/wxc-sync/internal/cli"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !cli.Silent(err) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", cli.Name, cli.Message(err))
	}
	os.Exit(exitcode.Of(err))
}
