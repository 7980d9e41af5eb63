package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/cli"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// ChildMain runs the job's own "run" command with args, exactly as the
// wxc-sync binary would: the memory scenario measures this process. It
// returns the exit code.
func ChildMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := cli.Run(ctx, append([]string{"run"}, args...), getenv, stdout, stderr)
	if err != nil && !cli.Silent(err) {
		fmt.Fprintf(stderr, "wxc-bench child: %v\n", err)
	}
	// The process's own high-water mark, read as it ends: the parent cannot
	// read it after exit, and the rusage it gets from wait4 is polluted (see
	// childSync).
	if kib, err := procStatusKiB(os.Getpid(), "VmHWM"); err == nil {
		fmt.Fprintf(stderr, "%s%d\n", hwmPrefix, kib)
	}
	return exitcode.Of(err)
}

// hwmPrefix starts the line on which the child reports its VmHWM in KiB.
const hwmPrefix = "wxc-bench child VmHWM kB: "

// scenarioMemory tracks MemoryDevices devices and runs one real sync of all
// of them in a child process, whose peak RSS is the figure. The simulator
// runs in this process, so its memory does not count.
func (b *bencher) scenarioMemory(ctx context.Context) error {
	n := b.cfg.MemoryDevices
	b.logf("memory: generating %d simulated devices", n)
	sim, base, err := startSim(webexsim.Config{Devices: n})
	if err != nil {
		return err
	}
	defer sim.Close()
	fig := b.res.figure(FigMemory, "memory: peak RSS of the sync process", "MiB")
	for run := range b.cfg.MemoryRuns {
		db, err := b.openDB(ctx)
		if err != nil {
			return err
		}
		s, err := func() (Sample, error) {
			defer db.close()
			if err := db.track(ctx, sim.IDs()); err != nil {
				return Sample{}, err
			}
			sim.ResetStats()
			return b.childSync(ctx, db, base, n)
		}()
		if err != nil {
			return fmt.Errorf("run %d: %w", run+1, err)
		}
		fig.add(s)
		b.logf("memory run %d: peak RSS %.1f MiB syncing %d devices in %s (%.0f devices/s)",
			run+1, s.PeakRSSMiB, s.OK, s.Seconds, float64(s.OK)/float64(s.Seconds))
	}
	return nil
}

func (b *bencher) childSync(ctx context.Context, db *database, base string, n int) (Sample, error) {
	args := []string{
		"--database-url", db.dsn, "--api-url", base,
		// Unlimited in effect: the ceiling is the machine, not the limiter.
		"--rate", "1000000", "--burst", "1000",
		"--concurrency", strconv.Itoa(b.cfg.Concurrency), "--batch-size", strconv.Itoa(b.cfg.BatchSize),
		"--log-format", "json",
	}
	cmd := b.env.ChildCommand(ctx, args, []string{"WEBEX_TOKEN=" + token})
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Sample{}, err
	}
	// VmHWM is polled while the child lives as a cross-check of the rusage
	// figure the kernel reports at exit.
	var hwm int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatusKiB(cmd.Process.Pid, "VmHWM"); err == nil {
				hwm = max(hwm, v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	el := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return Sample{}, fmt.Errorf("sync process: %w\n%s", err, out.String())
	}
	// Not the rusage ru_maxrss from wait4: Go starts a child with
	// CLONE_VM|CLONE_VFORK, and at exec Linux folds the high-water RSS of
	// the mm it replaces (the parent's, simulator and all) into the child's
	// maxrss. VmHWM belongs to the new image alone.
	reported := int64(0)
	for line := range strings.Lines(out.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), hwmPrefix); ok {
			reported, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if reported == 0 {
		return Sample{}, fmt.Errorf("the sync process did not report its VmHWM\n%s", out.String())
	}
	c, err := db.counts(ctx)
	if err != nil {
		return Sample{}, err
	}
	if c.ok != n {
		return Sample{}, fmt.Errorf("%d of %d devices ok after the child's run\n%s", c.ok, n, out.String())
	}
	peak := float64(max(reported, hwm)) / 1024
	return Sample{Value: peak, PeakRSSMiB: peak, Devices: n, OK: c.ok, Seconds: Seconds(el.Seconds()),
		HistoryRows: c.history}, nil
}

// tail keeps the last 16 KiB written to it, for an error message.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 32<<10 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-16<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
