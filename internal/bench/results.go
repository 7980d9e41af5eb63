package bench

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Seconds is a duration recorded as seconds, for a readable JSON file.
type Seconds float64

func (s Seconds) String() string { return strconv.FormatFloat(float64(s), 'f', 2, 64) + "s" }

// Sample is one run of one scenario. Value is the figure the scenario
// reports (devices or requests per second, or MiB); the rest is the evidence.
type Sample struct {
	Value   float64 `json:"value"`
	Devices int     `json:"devices"`
	Seconds Seconds `json:"seconds"`
	OK      int     `json:"ok,omitempty"`
	Status  string  `json:"status,omitempty"`
	// History rows the run wrote (device_changes).
	HistoryRows int64 `json:"historyRows"`
	// What the simulator saw.
	Requests            int64 `json:"requests,omitempty"`
	Accepted            int64 `json:"accepted,omitempty"`
	Throttled           int64 `json:"throttled,omitempty"`
	MaxPerSlidingSecond int64 `json:"maxPerSlidingSecond,omitempty"`
	// PeakRSSMiB is the sync process's peak resident set (memory scenario).
	PeakRSSMiB float64 `json:"peakRSSMiB,omitempty"`
	// A list-guided pass: what the simulator saw of each kind, and the
	// devices the listing vouched for.
	ListingRequests int64 `json:"listingRequests,omitempty"`
	DetailsRequests int64 `json:"detailsRequests,omitempty"`
	Confirmed       int   `json:"confirmed,omitempty"`
	Sampled         int   `json:"sampled,omitempty"` // of the details requests, the audit sample's devices
	// The work list of a list-guided run: its size, and its max-age
	// refreshes; the changes the listing revealed (herd scenario).
	Due       int `json:"due,omitempty"`
	Refreshed int `json:"refreshed,omitempty"`
	Revealed  int `json:"revealed,omitempty"`
	// The inventory's updates and size (wal scenario).
	Updates    int64 `json:"updates,omitempty"`
	HOTUpdates int64 `json:"hotUpdates,omitempty"`
	Bytes      int64 `json:"bytes,omitempty"`
}

// Figure is one measured quantity over several runs.
type Figure struct {
	Name    string   `json:"name"`
	Label   string   `json:"label"`
	Unit    string   `json:"unit"`
	Samples []Sample `json:"samples"`
	Median  float64  `json:"median"`
	Min     float64  `json:"min"`
	Max     float64  `json:"max"`
}

func (f *Figure) add(s Sample) {
	f.Samples = append(f.Samples, s)
	vs := make([]float64, len(f.Samples))
	for i, s := range f.Samples {
		vs[i] = s.Value
	}
	slices.Sort(vs)
	f.Min, f.Max = vs[0], vs[len(vs)-1]
	n := len(vs)
	if n%2 == 1 {
		f.Median = vs[n/2]
	} else {
		f.Median = (vs[n/2-1] + vs[n/2]) / 2
	}
}

// Target is one of the targets and whether this run met it.
type Target struct {
	Name     string `json:"name"`
	Want     string `json:"want"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

// Results is everything one benchmark run measured.
type Results struct {
	Started  time.Time `json:"started"`
	Elapsed  Seconds   `json:"elapsedSeconds"`
	Machine  Machine   `json:"machine"`
	Database string    `json:"database"`
	Config   Config    `json:"config"`
	Figures  []*Figure `json:"figures"`
	// Ratios are computed from medians of figures measured in this run.
	Ratios  map[string]float64 `json:"ratios"`
	Targets []Target           `json:"targets"`
	// Matrix is the pacing matrix's cells, when it ran.
	Matrix []*MatrixCell `json:"matrix,omitempty"`
}

// figure returns the named figure, creating it.
func (r *Results) figure(name, label, unit string) *Figure {
	if f := r.Figure(name); f != nil {
		return f
	}
	f := &Figure{Name: name, Label: label, Unit: unit}
	r.Figures = append(r.Figures, f)
	return f
}

// Figure returns the named figure, or nil.
func (r *Results) Figure(name string) *Figure {
	for _, f := range r.Figures {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Figure names.
const (
	FigHTTP        = "http_ceiling"
	FigHTTPRaw     = "http_raw_ceiling"
	FigStoreFirst  = "store_ceiling_first"
	FigStoreResync = "store_ceiling_resync"
	FigFullFirst   = "full_first_sync"
	FigFullResync  = "full_resync"
	FigPacingR     = "pacing_at_R"
	FigPacingHalf  = "pacing_at_R_over_2"
	FigPacingLong  = "pacing_long_at_R_over_2"
	FigMemory      = "memory_peak_rss"
	FigNaive       = "naive_first_sync"

	FigWALPerDevice  = "wal_bytes_per_device_resync"
	FigHOTShare      = "hot_share_resync"
	FigInventorySize = "inventory_size_vs_first_sync"
	FigWALListing    = "wal_bytes_per_device_listing_pass"
	FigHOTListing    = "hot_share_listing_pass"
	FigSizeListing   = "inventory_size_listing_pass"
	FigListingPass   = "listing_pass_requests"
	FigListingReplay = "listing_replay_mismatches"
	FigHerdRecorded  = "herd_revealed_changes_recorded"
	FigHerdShare     = "herd_refresh_share"
	FigHerdAge       = "herd_oldest_details"

	FigSurvivalKills        = "survival_sessions_ended"
	FigSurvivalKillCost     = "survival_seconds_lost_to_sessions_ended"
	FigSurvivalRestartCost  = "survival_seconds_lost_to_a_restart"
	FigSurvivalRestartPause = "survival_writes_paused_by_a_restart"
)

// Evaluate computes the ratios and checks the targets, from what was
// measured; a target whose figures were not measured is left out.
func (r *Results) Evaluate() {
	r.Ratios = map[string]float64{}
	r.Targets = nil
	med := func(name string) (float64, bool) {
		f := r.Figure(name)
		if f == nil || len(f.Samples) == 0 {
			return 0, false
		}
		return f.Median, true
	}
	h, okH := med(FigHTTP)
	p, okP := med(FigStoreFirst)
	pr, okPR := med(FigStoreResync)
	first, okF := med(FigFullFirst)
	resync, okR := med(FigFullResync)
	if okH && okP {
		c := 1 / (1/h + 1/p)
		r.Ratios["combined_ceiling_first"] = c
		if okF {
			r.Ratios["full_first_over_combined"] = first / c
			r.Targets = append(r.Targets, Target{
				Name: "first sync vs combined ceiling 1/(1/H+1/P)", Want: ">= 70%",
				Measured: fmt.Sprintf("%.0f%% (%.0f of %.0f devices/s)", 100*first/c, first, c),
				Pass:     first/c >= 0.70,
			})
		}
		r.Ratios["full_first_over_store"] = ratio(first, p)
	}
	if okH && okF {
		r.Ratios["full_first_over_http"] = ratio(first, h)
	}
	// Against H the first sync looks better the slower the job's own
	// client is (a client that decodes slowly lowers H more than the first
	// sync); against the raw ceiling H0, what the client spends counts.
	if h0, ok := med(FigHTTPRaw); ok && okF {
		r.Ratios["full_first_over_raw_http"] = ratio(first, h0)
		r.Targets = append(r.Targets, Target{
			Name: "first sync vs raw HTTP ceiling H0 (issue 18)", Want: ">= 40%",
			Measured: fmt.Sprintf("%.0f%% (%.0f of %.0f devices/s)", 100*first/h0, first, h0),
			Pass:     first/h0 >= 0.40,
		})
	}
	if okH && okPR {
		c := 1 / (1/h + 1/pr)
		r.Ratios["combined_ceiling_resync"] = c
		if okR {
			r.Ratios["full_resync_over_combined"] = resync / c
		}
	}
	if okF && okR {
		var hist int64
		for _, s := range r.Figure(FigFullResync).Samples {
			hist += s.HistoryRows
		}
		r.Ratios["resync_over_first"] = resync / first
		r.Targets = append(r.Targets, Target{
			Name: "unchanged re-sync faster than first sync, no history", Want: "ratio > 1, 0 history rows",
			Measured: fmt.Sprintf("%.2f× faster, %d history rows", resync/first, hist),
			Pass:     resync > first && hist == 0,
		})
	}
	rate, burst := r.Config.PacingRate, float64(r.Config.PacingBurst)
	if f := r.Figure(FigPacingR); f != nil && len(f.Samples) > 0 {
		var req, thr int64
		worst := 0.0
		for _, s := range f.Samples {
			req += s.Requests
			thr += s.Throttled
		}
		worst = f.Min
		r.Ratios["pacing_R_achieved_over_R"] = f.Median / rate
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("pacing: achieved rate vs R = %g/s (server enforces R, latency %v+[0,%v))", rate, r.Config.PacingLatency, r.Config.PacingJitter),
			Want: ">= 97%", Measured: fmt.Sprintf("median %.1f%% (min %.1f%%)", 100*f.Median/rate, 100*worst/rate),
			Pass: f.Median/rate >= 0.97,
		}, Target{
			Name: "pacing: 429s at R", Want: "< 0.5% of requests",
			Measured: fmt.Sprintf("%d of %d (%.2f%%)", thr, req, pct(thr, req)),
			Pass:     pct(thr, req) < 0.5,
		})
	}
	if f := r.Figure(FigPacingHalf); f != nil && len(f.Samples) > 0 {
		var req, thr int64
		for _, s := range f.Samples {
			req += s.Requests
			thr += s.Throttled
		}
		half := rate / 2
		r.Ratios["pacing_half_achieved_over_R2"] = f.Median / half
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("pacing: server enforces R/2 = %g/s, client set to R", half),
			Want: ">= 90% of R/2", Measured: fmt.Sprintf("median %.1f%% (min %.1f%%); 429s: %d of %d requests over %d runs (%.1f%%)",
				100*f.Median/half, 100*f.Min/half, thr, req, len(f.Samples), pct(thr, req)),
			Pass: f.Median/half >= 0.90,
		})
	}
	if f := r.Figure(FigPacingLong); f != nil && len(f.Samples) > 0 {
		half := rate / 2
		var worst429 float64 // 429s per started minute of the phase, worst sample
		var thr int64
		for _, s := range f.Samples {
			thr += s.Throttled
			worst429 = max(worst429, float64(s.Throttled)/math.Max(1, math.Ceil(float64(s.Seconds)/60)))
		}
		r.Ratios["pacing_long_achieved_over_R2"] = f.Median / half
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("pacing, %gs phase: server enforces R/2 = %g/s, client set to R", r.Config.PacingLongSeconds, half),
			Want: ">= 97% of R/2, at most one 429 a minute",
			Measured: fmt.Sprintf("median %.1f%% (min %.1f%%); %d 429s over %d run(s), at most %.1f a minute",
				100*f.Median/half, 100*f.Min/half, thr, len(f.Samples), worst429),
			Pass: f.Median/half >= 0.97 && worst429 <= 1,
		})
	}
	var maxWin int64
	seen := false
	for _, name := range []string{FigPacingR, FigPacingHalf, FigPacingLong} {
		if f := r.Figure(name); f != nil {
			for _, s := range f.Samples {
				seen = true
				maxWin = max(maxWin, s.MaxPerSlidingSecond)
			}
		}
	}
	if seen {
		r.Targets = append(r.Targets, Target{
			Name: "pacing: requests the server saw in any one-second window", Want: fmt.Sprintf("<= R + burst = %g", rate+burst),
			Measured: fmt.Sprintf("max %d", maxWin), Pass: float64(maxWin) <= rate+burst,
		})
	}
	if f := r.Figure(FigMemory); f != nil && len(f.Samples) > 0 {
		r.Targets = append(r.Targets, Target{
			Name: fmt.Sprintf("memory: peak RSS of the sync process, %d devices in the table", f.Samples[0].Devices),
			Want: "< 150 MB", Measured: fmt.Sprintf("max %.1f MiB (%.1f MB)", f.Max, f.Max*1.048576),
			Pass: f.Max*1.048576 < 150,
		})
	}
	r.evaluateWAL()
	r.evaluateListing()
	r.evaluateHerd()
	r.evaluateSurvival()
	r.evaluateMatrix()
	if f := r.Figure(FigNaive); f != nil && len(f.Samples) > 0 && okF {
		r.Ratios["full_first_over_naive"] = first / f.Median
		r.Targets = append(r.Targets, Target{
			Name: "naive baseline (one request at a time, one autocommitted statement per device)",
			Want: "report the ratio", Measured: fmt.Sprintf("the job is %.1f× faster (%.0f vs %.0f devices/s)", first/f.Median, first, f.Median),
			Pass: true,
		})
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Table renders the figures and targets as Markdown.
func (r *Results) Table() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Machine: %d CPUs (%s), %d MiB RAM, %s %s. Database: %s. Elapsed: %s.\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMiB, r.Machine.GoVersion, r.Machine.OS, r.Database, r.Elapsed)
	if len(r.Figures) > 0 {
		sb.WriteString("| figure | unit | median | min – max | runs | devices |\n|---|---|---:|---:|---:|---:|\n")
	}
	for _, f := range r.Figures {
		if len(f.Samples) == 0 {
			continue // its scenario failed before measuring it
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s – %s | %d | %d |\n", f.Label, f.Unit,
			num(f.Median), num(f.Min), num(f.Max), len(f.Samples), f.Samples[0].Devices)
	}
	if len(r.Ratios) > 0 {
		sb.WriteString("\n| ratio (medians, same run) | value |\n|---|---:|\n")
		keys := make([]string, 0, len(r.Ratios))
		for k := range r.Ratios {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&sb, "| %s | %s |\n", k, num(r.Ratios[k]))
		}
	}
	if len(r.Matrix) > 0 {
		sb.WriteString("\n" + r.MatrixTable())
	}
	if len(r.Targets) > 0 {
		sb.WriteString("\n| target | want | measured | result |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			res := "PASS"
			if !t.Pass {
				res = "**FAIL**"
			}
			fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Measured, res)
		}
	}
	return sb.String()
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// memTotalMiB and cpuModel read /proc; zero values elsewhere.
func memTotalMiB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb / 1024
		}
	}
	return 0
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return ""
}

// procStatusKiB reads one "Name:  123 kB" field of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
