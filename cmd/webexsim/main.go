// Command webexsim serves a simulated Webex API (device details, device
// listing, auth, rate limits, faults) for demos and manual testing of the sync
// job. See package internal/webexsim for what it simulates.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "webexsim:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "webexsim:", err)
		os.Exit(1)
	}
}
