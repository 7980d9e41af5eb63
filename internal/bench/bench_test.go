package bench

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

// childEnv makes the test binary, re-executed by the memory scenario, run
// the job's "run" command instead of the tests.
const childEnv = "WXC_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(ChildMain(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	pgtest.Main(m)
}

// TestSmoke runs every scenario small and checks that each measured what it
// claims: every device synced, the re-sync wrote no history, the server
// never saw more than R + burst requests in a second, the sync process's
// memory was read. It asserts nothing about speed.
func TestSmoke(t *testing.T) {
	t.Parallel()
	const fleet, rate, burst = 5000, 100.0, 5
	cfg := Config{
		Devices: fleet, Runs: 1, Concurrency: 8, BatchSize: 500,
		PacingRate: rate, PacingBurst: burst, PacingSeconds: 2, PacingLongSeconds: 2,
		PacingLatency: 5 * time.Millisecond, PacingJitter: 10 * time.Millisecond, PacingConcurrency: 16,
		MemoryDevices: fleet, MemoryRuns: 1,
		NaiveDevices: 500, NaiveRuns: 1,
		ListingDevices: 2000, ListingRounds: 1,
		// The wal scenario starts a private cluster: TestWALSmoke; the herd
		// scenario has TestHerdSmoke; the matrix, TestMatrixSmoke; the
		// survival scenario, TestSurvivalSmoke.
		Scenarios: slices.DeleteFunc(slices.Clone(DefaultScenarios), func(s string) bool {
			return s == ScenarioWAL || s == ScenarioHerd || s == ScenarioSurvival
		}),
	}
	var progress bytes.Buffer
	env := Env{
		NewDB: func(context.Context) (string, func(), error) { return pgtest.DBURL(t), func() {}, nil },
		ChildCommand: func(ctx context.Context, args, extra []string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, os.Args[0], args...)
			cmd.Env = append(append(os.Environ(), childEnv+"=1"), extra...)
			return cmd
		},
		Progress: &progress,
		Database: "pgtest",
	}
	res, err := Run(context.Background(), cfg, env)
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}

	sample := func(name string) Sample {
		t.Helper()
		f := res.Figure(name)
		if f == nil || len(f.Samples) != 1 {
			t.Fatalf("figure %s: missing or not one sample: %+v", name, f)
		}
		s := f.Samples[0]
		if !(s.Value > 0) || s.Seconds <= 0 {
			t.Errorf("figure %s: value %v over %v: want both above 0", name, s.Value, s.Seconds)
		}
		return s
	}
	for _, name := range []string{FigHTTP, FigHTTPRaw, FigStoreFirst, FigStoreResync, FigFullFirst, FigFullResync} {
		if s := sample(name); s.OK != fleet {
			t.Errorf("%s: %d of %d devices ok", name, s.OK, fleet)
		}
	}
	// The first sync writes each device's initial history; the store alone
	// and the full sync must agree on it, and a re-sync must write none.
	storeFirst, fullFirst := sample(FigStoreFirst), sample(FigFullFirst)
	if fullFirst.HistoryRows == 0 || fullFirst.HistoryRows != storeFirst.HistoryRows {
		t.Errorf("first sync history rows: full %d, store alone %d: want equal and above 0",
			fullFirst.HistoryRows, storeFirst.HistoryRows)
	}
	for _, name := range []string{FigStoreResync, FigFullResync} {
		if s := sample(name); s.HistoryRows != 0 {
			t.Errorf("%s wrote %d history rows; an unchanged re-sync writes none", name, s.HistoryRows)
		}
	}
	if s := sample(FigHTTP); s.Accepted != fleet {
		t.Errorf("http: simulator answered %d requests with 200, want %d", s.Accepted, fleet)
	}
	for _, name := range []string{FigPacingR, FigPacingHalf, FigPacingLong} {
		s := sample(name)
		if s.OK != s.Devices {
			t.Errorf("%s: %d of %d devices ok", name, s.OK, s.Devices)
		}
		if limit := int64(rate) + burst; s.MaxPerSlidingSecond > limit || s.MaxPerSlidingSecond == 0 {
			t.Errorf("%s: the simulator saw %d requests in one second; want 1 to R+burst = %d", name, s.MaxPerSlidingSecond, limit)
		}
		if s.Requests != s.Accepted+s.Throttled {
			t.Errorf("%s: %d requests != %d accepted + %d throttled", name, s.Requests, s.Accepted, s.Throttled)
		}
	}
	if s := sample(FigMemory); s.OK != fleet || s.PeakRSSMiB < 5 || s.PeakRSSMiB > 4096 {
		t.Errorf("memory: %d of %d devices ok, peak RSS %.1f MiB: want all ok and a plausible RSS", s.OK, fleet, s.PeakRSSMiB)
	}
	if s := sample(FigNaive); s.OK != cfg.NaiveDevices || s.Accepted != int64(cfg.NaiveDevices) {
		t.Errorf("naive: %d ok, %d requests accepted; want %d each", s.OK, s.Accepted, cfg.NaiveDevices)
	}

	// Every target of the issue is evaluated, and the records render.
	if len(res.Targets) != 13 {
		t.Errorf("%d targets evaluated, want 13:\n%s", len(res.Targets), res.Table())
	}
	for _, k := range []string{"combined_ceiling_first", "full_first_over_combined", "full_first_over_http", "full_first_over_raw_http", "full_first_over_naive", "resync_over_first"} {
		if _, ok := res.Ratios[k]; !ok {
			t.Errorf("ratio %s missing", k)
		}
	}
	var buf bytes.Buffer
	if err := res.WriteChart(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 300 {
		t.Errorf("chart is %v, too small to read", b)
	}
	if tbl := res.Table(); !strings.Contains(tbl, "| target |") {
		t.Errorf("table has no targets:\n%s", tbl)
	}
}

// TestSurvivalSmoke runs the survival scenario small: both runs must
// finish with every device stored once, and the scenario must have ended
// sessions and restarted its cluster. It asserts nothing about the seconds
// lost: that is the benchmark's job.
func TestSurvivalSmoke(t *testing.T) {
	t.Parallel()
	pgtest.NeedServerBinaries(t, "the survival scenario needs PostgreSQL server binaries")
	var progress bytes.Buffer
	env := Env{NewDB: func(context.Context) (string, func(), error) { return pgtest.DBURL(t), func() {}, nil }, Progress: &progress}
	res, err := Run(context.Background(), Config{Scenarios: []string{ScenarioSurvival}, SurvivalDevices: 1500, SurvivalRate: 500, Concurrency: 8}, env)
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FigSurvivalKills, FigSurvivalKillCost, FigSurvivalRestartCost, FigSurvivalRestartPause} {
		if f := res.Figure(name); f == nil || len(f.Samples) != 1 {
			t.Fatalf("figure %s: want one sample, got %+v", name, f)
		}
	}
	if k := res.Figure(FigSurvivalKills).Samples[0]; k.Value < 1 || k.OK != 1500 {
		t.Errorf("kills: %v sessions ended, %d of 1500 ok: want some, and all", k.Value, k.OK)
	}
	if n := len(res.Targets); n != 2 {
		t.Errorf("%d targets evaluated, want 2:\n%s", n, res.Table())
	}
	if r := res.Figure(FigSurvivalRestartCost).Samples[0]; r.Status != "succeeded" || r.OK != 1500 {
		t.Errorf("restart: %s, %d of 1500 ok: want succeeded, all", r.Status, r.OK)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown scenario", Config{Scenarios: []string{"http", "warp"}}, `scenario "warp"`},
		{"negative fleet", Config{Devices: -1}, "devices -1"},
		{"too many devices", Config{MemoryDevices: 5_000_000}, "memory devices 5000000"},
		{"matrix limit of zero", Config{MatrixLimits: []float64{10, 0}}, "matrix rate or multiple 0"},
		{"matrix bucket of zero", Config{MatrixChangeBuckets: []int{0}}, "matrix bucket 0"},
		{"loosening cell ends before the rise", Config{MatrixLoosenSeconds: 20, MatrixChangeAt: 30 * time.Second}, "matrix loosen seconds 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

// TestWALSmoke runs the wal scenario small: it must measure every re-sync,
// count one inventory update per device (the run writes each device's sync
// time), and evaluate its three targets. It asserts nothing about the
// figures' size: that is the benchmark's job.
func TestWALSmoke(t *testing.T) {
	t.Parallel()
	pgtest.NeedServerBinaries(t, "the wal scenario needs PostgreSQL server binaries")
	const fleet = 300
	var progress bytes.Buffer
	res, err := Run(context.Background(), Config{Scenarios: []string{ScenarioWAL}, WALDevices: fleet, WALRuns: 2},
		Env{Progress: &progress})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FigWALPerDevice, FigHOTShare, FigInventorySize, FigWALListing, FigHOTListing, FigSizeListing} {
		if f := res.Figure(name); f == nil || len(f.Samples) != 2 {
			t.Fatalf("figure %s: want 2 samples, got %+v", name, f)
		}
	}
	for _, s := range res.Figure(FigWALPerDevice).Samples {
		if s.OK != fleet || s.HistoryRows != 0 || !(s.Value > 0) {
			t.Errorf("re-sync: %d of %d ok, %d history rows, %.0f WAL bytes/device; want all ok, none, above 0", s.OK, fleet, s.HistoryRows, s.Value)
		}
	}
	for _, s := range res.Figure(FigHOTShare).Samples {
		if s.Updates < fleet {
			t.Errorf("re-sync counted %d inventory updates, want at least one per device (%d)", s.Updates, fleet)
		}
	}
	if n := len(res.Targets); n != 6 {
		t.Errorf("%d targets evaluated, want 6:\n%s", n, res.Table())
	}
}

// TestHerdSmoke runs the herd scenario small: the day after a first sync,
// the budgeted run must record every change the listing revealed, and the
// two simulated days must measure a refresh share for each run of the
// second day and an age after every run. It asserts nothing about speed.
func TestHerdSmoke(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Config{Scenarios: []string{ScenarioHerd}, HerdDevices: 480},
		Env{NewDB: func(context.Context) (string, func(), error) { return pgtest.DBURL(t), func() {}, nil }, Progress: &progress})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	rec := res.Figure(FigHerdRecorded)
	if rec == nil || len(rec.Samples) != 1 {
		t.Fatalf("figure %s: want one sample, got %+v", FigHerdRecorded, rec)
	}
	if s := rec.Samples[0]; s.Revealed == 0 || s.OK != s.Revealed {
		t.Errorf("the day after: %d of %d revealed changes recorded, want all (and some)", s.OK, s.Revealed)
	}
	if f := res.Figure(FigHerdShare); f == nil || len(f.Samples) != 25 {
		t.Errorf("figure %s: want 25 runs of the second day, got %+v", FigHerdShare, f)
	}
	if f := res.Figure(FigHerdAge); f == nil || len(f.Samples) != 48 {
		t.Errorf("figure %s: want an age after each of 48 runs, got %+v", FigHerdAge, f)
	}
	if n := len(res.Targets); n != 3 {
		t.Errorf("%d targets evaluated, want 3:\n%s", n, res.Table())
	}
}
