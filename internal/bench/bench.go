// Package bench measures the sync job end to end on one machine: the
// simulator over loopback HTTP, a real PostgreSQL, and the real code path
// (fetch.Client, store.Store, syncrun.Run). Every figure is printed next to
// the baselines measured in the same process, as ratios, so that a result
// means the same thing on a faster or a slower machine. cmd/wxc-bench is its
// command; docs/BENCHMARKS.md records the results.
package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

// Scenario names, in the order they run.
const (
	ScenarioHTTP   = "http"   // raw ceiling H: GET and decode, no database
	ScenarioStore  = "store"  // raw ceiling P: the store's writes, no HTTP
	ScenarioFull   = "full"   // first sync and unchanged re-sync, unlimited API
	ScenarioPacing = "pacing" // client rate R against a server enforcing R, then R/2
	// ScenarioPacingLong: client rate R against a server enforcing R/2 for
	// five minutes: what remembering the accepted rate is worth.
	ScenarioPacingLong = "pacing-long"
	ScenarioMemory     = "memory" // peak RSS of a sync process over a large table
	ScenarioNaive      = "naive"  // one request at a time, one statement per device
	ScenarioWAL        = "wal"    // WAL, HOT share and size of unchanged re-syncs, on a private cluster
	// ScenarioListing is a list-guided pass after 1% of the fleet changed,
	// and a differential check of the history after churn rounds.
	ScenarioListing = "listing"
	// ScenarioHerd is the day after a first sync (revealed changes before
	// max-age refreshes) and two days of hourly runs (no refresh herd).
	ScenarioHerd = "herd"
	// ScenarioSurvival is a run whose sessions are ended every 0.5 s, and
	// one whose server restarts mid-run (on a private cluster): what a
	// run survives of its database, and what it costs.
	ScenarioSurvival = "survival"
	// ScenarioMatrix is the pacing matrix (issue 17): the real sync against
	// servers of every shape (buckets, limits, the client's rate above
	// them, limits that drop or rise). At 90 s a cell it takes most of an
	// hour, so it runs only when asked for.
	ScenarioMatrix = "pacing-matrix"
)

// AllScenarios lists every scenario in run order.
var AllScenarios = []string{ScenarioHTTP, ScenarioStore, ScenarioFull, ScenarioPacing, ScenarioPacingLong, ScenarioMatrix, ScenarioMemory, ScenarioNaive, ScenarioWAL, ScenarioListing, ScenarioHerd, ScenarioSurvival}

// DefaultScenarios are those a plain wxc-bench runs: all but the matrix.
var DefaultScenarios = slices.DeleteFunc(slices.Clone(AllScenarios), func(s string) bool { return s == ScenarioMatrix })

// Config says what to measure. Zero values take the defaults of
// DefaultConfig.
type Config struct {
	Devices     int      `json:"devices"`     // fleet of http, store, full
	Runs        int      `json:"runs"`        // repetitions of http, store, full, pacing
	Scenarios   []string `json:"scenarios"`   // subset of AllScenarios
	Concurrency int      `json:"concurrency"` // sync workers for http and full (default: the job's)
	BatchSize   int      `json:"batchSize"`   // results per write (default: the job's)

	PacingRate    float64       `json:"pacingRate"`    // R, requests per second
	PacingBurst   int           `json:"pacingBurst"`   // client burst, and the server's bucket
	PacingSeconds float64       `json:"pacingSeconds"` // length of one pacing phase; its fleet is sized to it
	PacingLatency time.Duration `json:"pacingLatency"` // server latency: Latency + [0, Jitter)
	PacingJitter  time.Duration `json:"pacingJitter"`
	// PacingConcurrency must cover R × the slowest answer, else the
	// workers, not the limiter, set the pace.
	PacingConcurrency int `json:"pacingConcurrency"`
	// PacingLongSeconds is the length of the pacing-long phase (run once).
	PacingLongSeconds float64 `json:"pacingLongSeconds"`

	// The pacing matrix: a steady cell for every limit × bucket × client
	// multiple of the limit, MatrixSeconds long; and for every change
	// bucket a tightening cell (MatrixChangeHigh to MatrixChangeLow at
	// MatrixChangeAt, then MatrixSeconds more) and a loosening cell (low
	// to high, MatrixLoosenSeconds in all), the client at MatrixChangeOver
	// × the higher limit. The client's burst is MatrixClientBurst (the
	// job's default); the server answers after MatrixLatency + [0,
	// MatrixJitter).
	MatrixLimits        []float64     `json:"matrixLimits"`
	MatrixBuckets       []int         `json:"matrixBuckets"`
	MatrixOver          []float64     `json:"matrixOver"`
	MatrixSeconds       float64       `json:"matrixSeconds"`
	MatrixChangeBuckets []int         `json:"matrixChangeBuckets"`
	MatrixChangeHigh    float64       `json:"matrixChangeHigh"`
	MatrixChangeLow     float64       `json:"matrixChangeLow"`
	MatrixChangeAt      time.Duration `json:"matrixChangeAt"`
	MatrixChangeOver    float64       `json:"matrixChangeOver"`
	MatrixLoosenSeconds float64       `json:"matrixLoosenSeconds"`
	MatrixClientBurst   int           `json:"matrixClientBurst"`
	MatrixLatency       time.Duration `json:"matrixLatency"`
	MatrixJitter        time.Duration `json:"matrixJitter"`
	MatrixParallel      int           `json:"matrixParallel"` // cells run at once

	MemoryDevices int `json:"memoryDevices"` // devices in the table for the memory scenario
	NaiveDevices  int `json:"naiveDevices"`  // fleet of the naive baseline; default Devices
	// NaiveSeconds caps the naive pass (0: the whole fleet); the rate is
	// then sampled from the devices done, on the full table.
	NaiveSeconds float64 `json:"naiveSeconds"`
	NaiveRuns    int     `json:"naiveRuns"` // repetitions of the naive baseline (it is slow)
	MemoryRuns   int     `json:"memoryRuns"`

	WALDevices int `json:"walDevices"` // fleet of the wal scenario
	WALRuns    int `json:"walRuns"`    // unchanged re-syncs it measures

	ListingDevices int `json:"listingDevices"` // fleet of the listing scenario
	ListingRounds  int `json:"listingRounds"`  // churn rounds of its differential check

	HerdDevices int `json:"herdDevices"` // fleet of the herd scenario

	SurvivalDevices int     `json:"survivalDevices"` // fleet of the survival scenario
	SurvivalRate    float64 `json:"survivalRate"`    // the client's rate there, requests/s
}

// DefaultConfig is the documented benchmark.
func DefaultConfig() Config {
	return Config{
		Devices: 100_000, Runs: 3, Scenarios: DefaultScenarios, Concurrency: syncrun.DefaultConcurrency, BatchSize: syncrun.DefaultBatchSize,
		PacingRate: 50, PacingBurst: 5, PacingSeconds: 20,
		PacingLatency: 100 * time.Millisecond, PacingJitter: 200 * time.Millisecond,
		PacingConcurrency: 32, PacingLongSeconds: 300,
		MatrixLimits: []float64{2, 10, 25}, MatrixBuckets: []int{1, 3, 20, 100}, MatrixOver: []float64{2, 10}, MatrixSeconds: 90,
		MatrixChangeBuckets: []int{1, 20}, MatrixChangeHigh: 25, MatrixChangeLow: 10, MatrixChangeAt: 30 * time.Second,
		MatrixChangeOver: 2, MatrixLoosenSeconds: 360, MatrixClientBurst: 5, MatrixLatency: 20 * time.Millisecond, MatrixParallel: 1,
		MemoryDevices: 1_000_000, MemoryRuns: 1,
		NaiveRuns: 1, NaiveSeconds: 60,
		WALDevices: 20_000, WALRuns: 8,
		ListingDevices: 100_000, ListingRounds: 3,
		HerdDevices:     10_000,
		SurvivalDevices: 3000, SurvivalRate: 500,
	}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.Devices <= 0 {
		c.Devices = d.Devices
	}
	if c.Runs <= 0 {
		c.Runs = d.Runs
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = d.Scenarios
	}
	if c.Concurrency <= 0 {
		c.Concurrency = d.Concurrency
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.PacingRate <= 0 {
		c.PacingRate = d.PacingRate
	}
	if c.PacingBurst <= 0 {
		c.PacingBurst = d.PacingBurst
	}
	if c.PacingSeconds <= 0 {
		c.PacingSeconds = d.PacingSeconds
	}
	if c.PacingLatency < 0 {
		c.PacingLatency = 0
	}
	if c.PacingConcurrency <= 0 {
		c.PacingConcurrency = d.PacingConcurrency
	}
	if c.PacingLongSeconds <= 0 {
		c.PacingLongSeconds = d.PacingLongSeconds
	}
	if c.MatrixLimits == nil {
		c.MatrixLimits = d.MatrixLimits
	}
	if c.MatrixBuckets == nil {
		c.MatrixBuckets = d.MatrixBuckets
	}
	if c.MatrixOver == nil {
		c.MatrixOver = d.MatrixOver
	}
	if c.MatrixSeconds <= 0 {
		c.MatrixSeconds = d.MatrixSeconds
	}
	if c.MatrixChangeBuckets == nil {
		c.MatrixChangeBuckets = d.MatrixChangeBuckets
	}
	if c.MatrixChangeHigh <= 0 {
		c.MatrixChangeHigh = d.MatrixChangeHigh
	}
	if c.MatrixChangeLow <= 0 {
		c.MatrixChangeLow = d.MatrixChangeLow
	}
	if c.MatrixChangeAt <= 0 {
		c.MatrixChangeAt = d.MatrixChangeAt
	}
	if c.MatrixChangeOver <= 0 {
		c.MatrixChangeOver = d.MatrixChangeOver
	}
	if c.MatrixLoosenSeconds <= 0 {
		c.MatrixLoosenSeconds = d.MatrixLoosenSeconds
	}
	if c.MatrixClientBurst <= 0 {
		c.MatrixClientBurst = d.MatrixClientBurst
	}
	if c.MatrixLatency < 0 {
		c.MatrixLatency = 0
	}
	if c.MatrixParallel <= 0 {
		c.MatrixParallel = d.MatrixParallel
	}
	if c.MemoryDevices <= 0 {
		c.MemoryDevices = d.MemoryDevices
	}
	if c.MemoryRuns <= 0 {
		c.MemoryRuns = d.MemoryRuns
	}
	if c.NaiveDevices <= 0 {
		c.NaiveDevices = c.Devices
	}
	if c.NaiveRuns <= 0 {
		c.NaiveRuns = d.NaiveRuns
	}
	if c.WALDevices <= 0 {
		c.WALDevices = d.WALDevices
	}
	if c.WALRuns <= 0 {
		c.WALRuns = d.WALRuns
	}
	if c.ListingDevices <= 0 {
		c.ListingDevices = d.ListingDevices
	}
	if c.ListingRounds <= 0 {
		c.ListingRounds = d.ListingRounds
	}
	if c.HerdDevices <= 0 {
		c.HerdDevices = d.HerdDevices
	}
	if c.SurvivalDevices <= 0 {
		c.SurvivalDevices = d.SurvivalDevices
	}
	if c.SurvivalRate <= 0 {
		c.SurvivalRate = d.SurvivalRate
	}
}

// Validate reports every bad value at once.
func (c Config) Validate() error {
	var errs []string
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			errs = append(errs, fmt.Sprintf("scenario %q: want one of %v", s, AllScenarios))
		}
	}
	if c.Devices < 0 || c.Devices > 4_000_000 {
		errs = append(errs, fmt.Sprintf("devices %d: want 1 to 4000000", c.Devices))
	}
	if c.MemoryDevices < 0 || c.MemoryDevices > 4_000_000 {
		errs = append(errs, fmt.Sprintf("memory devices %d: want 1 to 4000000", c.MemoryDevices))
	}
	for _, l := range slices.Concat(c.MatrixLimits, c.MatrixOver, []float64{c.MatrixChangeHigh, c.MatrixChangeLow, c.MatrixChangeOver}) {
		if !(l > 0) || math.IsInf(l, 0) {
			errs = append(errs, fmt.Sprintf("matrix rate or multiple %v: want a finite number > 0", l))
		}
	}
	for _, b := range slices.Concat(c.MatrixBuckets, c.MatrixChangeBuckets) {
		if b < 1 {
			errs = append(errs, fmt.Sprintf("matrix bucket %d: want 1 or more", b))
		}
	}
	if c.MatrixLoosenSeconds > 0 && c.MatrixChangeAt > 0 && c.MatrixLoosenSeconds <= c.MatrixChangeAt.Seconds() {
		errs = append(errs, fmt.Sprintf("matrix loosen seconds %v: want more than the change at %v", c.MatrixLoosenSeconds, c.MatrixChangeAt))
	}
	if len(errs) > 0 {
		return fmt.Errorf("bench config: %v", errs)
	}
	return nil
}

// NewDB makes a fresh, migrated database and returns its connection string
// and a function that drops it.
type NewDB func(ctx context.Context) (dsn string, drop func(), err error)

// Env is what the benchmark needs from its caller.
type Env struct {
	NewDB NewDB
	// ChildCommand builds the command that runs one real sync (the job's
	// "run" command, see ChildMain) with the given arguments and extra
	// environment. Nil skips the memory scenario.
	ChildCommand func(ctx context.Context, args, env []string) *exec.Cmd
	// Progress receives one line per measurement; nil discards.
	Progress io.Writer
	// Database describes the server (no password) for the record.
	Database string
}

// Run measures the configured scenarios.
func Run(ctx context.Context, cfg Config, env Env) (*Results, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if env.Progress == nil {
		env.Progress = io.Discard
	}
	b := &bencher{cfg: cfg, env: env, res: &Results{
		Started: time.Now().UTC(), Config: cfg, Machine: describeMachine(), Database: env.Database,
	}}
	for _, s := range AllScenarios {
		if !slices.Contains(cfg.Scenarios, s) {
			continue
		}
		var err error
		switch s {
		case ScenarioHTTP:
			err = b.scenarioHTTP(ctx)
		case ScenarioStore:
			err = b.scenarioStore(ctx)
		case ScenarioFull:
			err = b.scenarioFull(ctx)
		case ScenarioPacing:
			err = b.scenarioPacing(ctx)
		case ScenarioPacingLong:
			err = b.scenarioPacingLong(ctx)
		case ScenarioMatrix:
			err = b.scenarioMatrix(ctx)
		case ScenarioMemory:
			if env.ChildCommand == nil {
				b.logf("memory: skipped (no child command)")
				continue
			}
			err = b.scenarioMemory(ctx)
		case ScenarioNaive:
			err = b.scenarioNaive(ctx)
		case ScenarioWAL:
			err = b.scenarioWAL(ctx)
		case ScenarioListing:
			err = b.scenarioListing(ctx)
		case ScenarioHerd:
			err = b.scenarioHerd(ctx)
		case ScenarioSurvival:
			err = b.scenarioSurvival(ctx)
		}
		if err != nil {
			return b.res, fmt.Errorf("scenario %s: %w", s, err)
		}
	}
	b.res.Elapsed = Seconds(time.Since(b.res.Started).Seconds())
	b.res.Evaluate()
	return b.res, nil
}

type bencher struct {
	cfg Config
	env Env
	res *Results
}

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.env.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Machine is where the figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	MemoryMiB int64  `json:"memoryMiB"`
	CPUModel  string `json:"cpuModel,omitempty"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
}

func describeMachine() Machine {
	return Machine{
		CPUs: runtime.NumCPU(), MemoryMiB: memTotalMiB(), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
	}
}
