// Command webexsim serves a simulated Webex API (device details, device
// listing, auth, rate limits, faults) for demos and manual testing of the sync
// job. See package internal/webexsim for what it simulates, and
// internal/simcmd for its command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxc-inventory/wxc-sync/internal/simcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := simcmd.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
