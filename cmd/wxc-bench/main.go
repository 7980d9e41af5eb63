// Command wxc-bench measures the sync job on this machine against the
// built-in Webex simulator over loopback HTTP and a real PostgreSQL, and
// prints every figure beside the baselines measured in the same run. See
// docs/BENCHMARKS.md, and internal/benchcmd for its command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxc-inventory/wxc-sync/internal/benchcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchcmd.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
