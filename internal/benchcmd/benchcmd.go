// Package benchcmd is the command line of wxc-bench, which measures the
// sync job on this machine against the built-in Webex simulator over
// loopback HTTP and a real PostgreSQL (package bench). cmd/wxc-bench only
// wires it to the process.
package benchcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/bench"
	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/flagenv"
	"github.com/wxc-inventory/wxc-sync/internal/localpg"
)

// childMode is the hidden first argument with which wxc-bench re-executes
// itself as the sync process of the memory scenario.
const childMode = "__child-sync"

// Main runs wxc-bench with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == childMode {
		return bench.ChildMain(ctx, args[1:], getenv, stdout, stderr)
	}
	err := run(ctx, args, getenv, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "wxc-bench: %v\n", err)
	}
	return exitcode.Of(err)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	def := bench.DefaultConfig()
	cfg := def
	fs := flagenv.New("wxc-bench")
	scenarios := fs.String("scenarios", strings.Join(bench.DefaultScenarios, ","), "comma-separated scenarios to run, of "+strings.Join(bench.AllScenarios, ","))
	dbURL := fs.String("database-url", "", "PostgreSQL server whose role may CREATE DATABASE; none: a throwaway local cluster")
	fs.BindEnv("database-url", "TEST_DATABASE_URL", "DATABASE_URL")
	out := fs.String("out", "", "write the results as JSON here (default: do not)")
	chart := fs.String("chart", "", "write a PNG chart of devices/s per scenario here (e.g. docs/throughput.png)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of this process: simulator, client, run and store code")
	from := fs.String("from", "", "measure nothing: re-evaluate the targets, print the table and draw --chart from this results JSON")
	fs.IntVar(&cfg.Devices, "devices", def.Devices, "fleet of the http, store, full and naive scenarios")
	fs.IntVar(&cfg.Runs, "runs", def.Runs, "runs of http, store, full and pacing")
	fs.IntVar(&cfg.Concurrency, "concurrency", def.Concurrency, "sync workers (default: the job's)")
	fs.IntVar(&cfg.BatchSize, "batch-size", def.BatchSize, "results per write (default: the job's)")
	fs.Float64Var(&cfg.PacingRate, "pacing-rate", def.PacingRate, "R: the client's rate in the pacing scenario, requests/s")
	fs.IntVar(&cfg.PacingBurst, "pacing-burst", def.PacingBurst, "the client's burst, and the server's bucket, in the pacing scenario")
	fs.Float64Var(&cfg.PacingSeconds, "pacing-seconds", def.PacingSeconds, "length of each pacing phase; its fleet is sized to it")
	fs.DurationVar(&cfg.PacingLatency, "pacing-latency", def.PacingLatency, "server latency in the pacing scenario (plus jitter)")
	fs.DurationVar(&cfg.PacingJitter, "pacing-jitter", def.PacingJitter, "uniform extra latency [0, jitter) in the pacing scenario")
	fs.Float64Var(&cfg.PacingLongSeconds, "pacing-long-seconds", def.PacingLongSeconds, "length of the pacing-long phase (server at R/2, run once)")
	fs.IntVar(&cfg.PacingConcurrency, "pacing-concurrency", def.PacingConcurrency, "sync workers in the pacing scenario: must cover R × the slowest answer")
	fs.Var(listFlag(&cfg.MatrixLimits), "matrix-limits", "pacing-matrix: the servers' limits, requests/s (comma-separated)")
	fs.Var(listFlag(&cfg.MatrixBuckets), "matrix-buckets", "pacing-matrix: the servers' bucket sizes (1: a strict server)")
	fs.Var(listFlag(&cfg.MatrixOver), "matrix-over", "pacing-matrix: the client's --rate, as multiples of the server's limit")
	fs.Float64Var(&cfg.MatrixSeconds, "matrix-seconds", def.MatrixSeconds, "pacing-matrix: length of a steady cell, from the first request; a tightening cell\nruns this long after the drop")
	fs.Var(listFlag(&cfg.MatrixChangeBuckets), "matrix-change-buckets", "pacing-matrix: bucket sizes of the tightening and loosening cells (empty: none)")
	fs.Float64Var(&cfg.MatrixChangeHigh, "matrix-change-high", def.MatrixChangeHigh, "pacing-matrix: the higher limit of the tightening and loosening cells, requests/s")
	fs.Float64Var(&cfg.MatrixChangeLow, "matrix-change-low", def.MatrixChangeLow, "pacing-matrix: the lower limit of the tightening and loosening cells, requests/s")
	fs.DurationVar(&cfg.MatrixChangeAt, "matrix-change-at", def.MatrixChangeAt, "pacing-matrix: when the limit changes, from the first request")
	fs.Float64Var(&cfg.MatrixChangeOver, "matrix-change-over", def.MatrixChangeOver, "pacing-matrix: the client's --rate in the changing cells, as a multiple of the higher limit")
	fs.Float64Var(&cfg.MatrixLoosenSeconds, "matrix-loosen-seconds", def.MatrixLoosenSeconds, "pacing-matrix: length of a loosening cell (the target is 90% of the new limit within\n5 minutes of the rise)")
	fs.IntVar(&cfg.MatrixClientBurst, "matrix-client-burst", def.MatrixClientBurst, "pacing-matrix: the client's --burst")
	fs.DurationVar(&cfg.MatrixLatency, "matrix-latency", def.MatrixLatency, "pacing-matrix: server latency (plus jitter)")
	fs.DurationVar(&cfg.MatrixJitter, "matrix-jitter", def.MatrixJitter, "pacing-matrix: uniform extra latency [0, jitter)")
	fs.IntVar(&cfg.MatrixParallel, "matrix-parallel", def.MatrixParallel, "pacing-matrix: cells run at once (each has its own simulator and database)")
	fs.IntVar(&cfg.MemoryDevices, "memory-devices", def.MemoryDevices, "devices in the table for the memory scenario")
	fs.IntVar(&cfg.MemoryRuns, "memory-runs", def.MemoryRuns, "runs of the memory scenario")
	fs.IntVar(&cfg.NaiveDevices, "naive-devices", 0, "fleet of the naive baseline (default: --devices)")
	fs.IntVar(&cfg.NaiveRuns, "naive-runs", def.NaiveRuns, "runs of the naive baseline")
	fs.Float64Var(&cfg.NaiveSeconds, "naive-seconds", def.NaiveSeconds, "stop the naive pass after this many seconds and report its rate so far (0: the whole fleet)")
	fs.IntVar(&cfg.ListingDevices, "listing-devices", def.ListingDevices, "fleet of the listing scenario")
	fs.IntVar(&cfg.ListingRounds, "listing-rounds", def.ListingRounds, "churn rounds of the listing scenario's differential check")
	fs.IntVar(&cfg.HerdDevices, "herd-devices", def.HerdDevices, "fleet of the herd scenario")
	fs.IntVar(&cfg.SurvivalDevices, "survival-devices", def.SurvivalDevices, "fleet of the survival scenario")
	fs.Float64Var(&cfg.SurvivalRate, "survival-rate", def.SurvivalRate, "the client's rate in the survival scenario, requests/s (the run must last long enough for the faults)")
	fs.IntVar(&cfg.WALDevices, "wal-devices", def.WALDevices, "fleet of the wal scenario")
	fs.IntVar(&cfg.WALRuns, "wal-runs", def.WALRuns, "unchanged runs the wal scenario measures, of each kind")
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage: wxc-bench [flags]\n\nMeasures the sync job against the simulator and PostgreSQL; see docs/BENCHMARKS.md.\n\nFlags (flag > environment > default):\n")
			fs.WriteFlags(stdout)
		}
		return err
	}
	cfg.Scenarios = nil
	for s := range strings.SplitSeq(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	if err := cfg.Validate(); err != nil {
		return &flagenv.UsageError{Err: err}
	}
	if *from != "" {
		return rerender(*from, *chart, stdout)
	}

	adminURL, origin := *dbURL, fs.Source("database-url")
	if adminURL == "" {
		fmt.Fprintln(stderr, "wxc-bench: no database URL given; starting a throwaway cluster (fsync off)")
		c, err := localpg.Start(ctx)
		if err != nil {
			return err
		}
		defer c.Stop()
		adminURL, origin = c.URL(), "throwaway cluster"
	}
	srv, err := bench.OpenServer(ctx, adminURL)
	if err != nil {
		return err
	}
	defer srv.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := bench.Env{
		NewDB:    srv.NewDB,
		Progress: stderr,
		Database: fmt.Sprintf("%s (%s)", srv.Settings(ctx), origin),
		ChildCommand: func(ctx context.Context, args, extraEnv []string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, self, append([]string{childMode}, args...)...)
			cmd.Env = append(os.Environ(), extraEnv...)
			return cmd
		},
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "wxc-bench: %s; scenarios %v, %d devices, %d runs\n", env.Database, cfg.Scenarios, cfg.Devices, cfg.Runs)
	start := time.Now()
	res, runErr := bench.Run(ctx, cfg, env)
	if res != nil {
		if *out != "" {
			if err := writeJSON(*out, res); err != nil {
				return errors.Join(runErr, err)
			}
		}
		if *chart != "" && runErr == nil {
			if err := writeChart(*chart, res); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, res.Table())
	}
	fmt.Fprintf(stderr, "wxc-bench: done in %s\n", time.Since(start).Round(time.Second))
	return runErr
}

func writeJSON(path string, res *bench.Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeChart(path string, res *bench.Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := res.WriteChart(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rerender prints the table and draws the chart of an earlier run.
func rerender(path, chart string, stdout io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	res.Evaluate()
	if chart != "" {
		if err := writeChart(chart, &res); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, res.Table())
	return nil
}

// list is a comma-separated flag value of numbers.
type list[T int | float64] struct{ p *[]T }

func listFlag[T int | float64](p *[]T) flag.Value { return list[T]{p} }

func (l list[T]) String() string {
	if l.p == nil {
		return ""
	}
	parts := make([]string, len(*l.p))
	for i, v := range *l.p {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func (l list[T]) Set(v string) error {
	out := []T{}
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		var x T
		var err error
		switch p := any(&x).(type) {
		case *int:
			*p, err = strconv.Atoi(part)
		case *float64:
			*p, err = strconv.ParseFloat(part, 64)
		}
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		out = append(out, x)
	}
	*l.p = out
	return nil
}
