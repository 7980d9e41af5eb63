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
)

// AllScenarios lists every scenario in run order.
var AllScenarios = []string{ScenarioHTTP, ScenarioStore, ScenarioFull, ScenarioPacing, ScenarioPacingLong, ScenarioMemory, ScenarioNaive, ScenarioWAL, ScenarioListing, ScenarioHerd}

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
}

// DefaultConfig is the documented benchmark.
func DefaultConfig() Config {
	return Config{
		Devices: 100_000, Runs: 3, Scenarios: AllScenarios, Concurrency: syncrun.DefaultConcurrency, BatchSize: syncrun.DefaultBatchSize,
		PacingRate: 50, PacingBurst: 5, PacingSeconds: 20,
		PacingLatency: 100 * time.Millisecond, PacingJitter: 200 * time.Millisecond,
		PacingConcurrency: 32, PacingLongSeconds: 300,
		MemoryDevices: 1_000_000, MemoryRuns: 1,
		NaiveRuns: 1, NaiveSeconds: 60,
		WALDevices: 20_000, WALRuns: 8,
		ListingDevices: 100_000, ListingRounds: 3,
		HerdDevices: 10_000,
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
