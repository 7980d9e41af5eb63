// Package simcmd is the command line of webexsim, the simulated Webex API
// (package webexsim) served for demos and manual tests: flags, environment
// (every flag --foo-bar also from WEBEXSIM_FOO_BAR), validation and serving
// until a signal. cmd/webexsim only wires it to the process.
package simcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/flagenv"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// envPrefix: every flag --foo-bar can also come from WEBEXSIM_FOO_BAR; a flag on
// the command line wins over the environment.
const envPrefix = "WEBEXSIM_"

type options struct {
	listen     string
	idsOut     string
	logFormat  string
	tokens     string
	faultRates map[webexsim.FaultKind]*float64
	cfg        webexsim.Config
	retryForm  string
	schedule   string
}

func newFlagSet(o *options) *flagenv.FlagSet {
	fs := flagenv.New("webexsim")
	fs.BindPrefix(envPrefix)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8089", "address to serve on (loopback by default: the simulator has no real auth)")
	fs.IntVar(&o.cfg.Devices, "devices", 1000, "number of devices to generate")
	fs.Int64Var(&o.cfg.Seed, "seed", 1, "seed for devices, tracking IDs and random faults")
	fs.StringVar(&o.tokens, "token", webexsim.DefaultToken, "accepted bearer token(s), comma-separated (a fake demo token, not a secret)")
	fs.StringVar(&o.cfg.OrgID, "org-id", "", "organisation ID reported in listings (default: derived from --seed)")
	fs.Float64Var(&o.cfg.RateLimit, "rate", 0, "requests per second allowed per token (0 = unlimited)")
	fs.IntVar(&o.cfg.Burst, "burst", 0, "rate-limit bucket size (0 = ceil(--rate)); 1 is a strict server")
	fs.StringVar(&o.schedule, "rate-schedule", "", "change the rate limit while serving: AT=RATE[/BURST],... with AT from the first\nrequest, e.g. 30s=10 (drop to 10/s at 30 s) or 30s=10,5m=25/20; POST\n/_sim/rate-limit {\"rate\":10,\"burst\":3} changes it at once")
	forms := make([]string, len(webexsim.RetryAfterForms))
	for i, f := range webexsim.RetryAfterForms {
		forms[i] = string(f)
	}
	fs.StringVar(&o.retryForm, "retry-after-form", string(webexsim.RetryAfterSeconds), "Retry-After spelling on 429/423: "+strings.Join(forms, ", "))
	fs.DurationVar(&o.cfg.LockedRetryAfter, "locked-retry-after", time.Second, "wait advertised by injected 423s")
	fs.DurationVar(&o.cfg.Latency, "latency", 0, "latency added to every /v1 request")
	fs.DurationVar(&o.cfg.Jitter, "jitter", 0, "uniform random extra latency in [0, jitter)")
	fs.BoolVar(&o.cfg.DropFiltersOnNext, "drop-filters-on-next", false, "listing next links drop the type and orgId filters (a quirk seen in the wild)")
	fs.IntVar(&o.cfg.ListTimeoutAbove, "list-timeout-above", 0, "listing pages whose max exceeds this answer 504 (0 = never); the API's advice is a smaller max")
	fs.BoolVar(&o.cfg.ListingNAT, "listing-nat", false, "the listing shows one NAT address per location instead of each phone's own IP")
	fs.Float64Var(&o.cfg.ListingLag, "listing-lag", 0, "share (0-1) of IP, MAC and status changes the listing shows one pass late")
	fs.BoolVar(&o.cfg.ListingHidesDeactivation, "listing-hides-deactivation", false, "a deactivation leaves the listing's connection status as it was (by default the device shows disconnected)")
	fs.StringVar(&o.idsOut, "ids-out", "", "write the device IDs to this file, one per line")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	o.faultRates = make(map[webexsim.FaultKind]*float64)
	for _, k := range webexsim.FaultKinds {
		o.faultRates[k] = fs.Float64("fault-rate-"+string(k), 0, fmt.Sprintf("probability that a device-details request gets the %q fault", k))
	}
	return fs
}

// parse fills options from args, then the environment for flags not given.
// Help goes to stdout.
func parse(args []string, getenv func(string) string, stdout io.Writer) (options, error) {
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage: webexsim [flags]\n\nServes a simulated Webex API (device details, listing, auth, rate limits,\nfaults) on loopback for demos and manual tests.\n\nFlags (flag > environment > default):\n")
			fs.WriteFlags(stdout)
			fmt.Fprint(stdout, controlHelp)
		}
		return o, err
	}
	o.cfg.RetryAfterForm = webexsim.RetryAfterForm(o.retryForm)
	var scheduleErr error
	if o.cfg.RateSchedule, scheduleErr = webexsim.ParseRateSchedule(o.schedule); scheduleErr != nil {
		return o, &flagenv.UsageError{Err: fmt.Errorf("--rate-schedule: %w", scheduleErr)}
	}
	o.cfg.Tokens = nil
	for _, t := range strings.Split(o.tokens, ",") {
		o.cfg.Tokens = append(o.cfg.Tokens, strings.TrimSpace(t))
	}
	o.cfg.FaultRates = make(map[webexsim.FaultKind]float64)
	for k, r := range o.faultRates {
		if *r != 0 {
			o.cfg.FaultRates[k] = *r
		}
	}
	if err := o.validate(); err != nil {
		return o, &flagenv.UsageError{Err: err}
	}
	return o, nil
}

// validate names the flag behind every bad value, before anything is bound.
func (o options) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %w", o.listen, err))
	}
	if o.cfg.Devices < 0 || o.cfg.Devices > webexsim.MaxDevices {
		errs = append(errs, fmt.Errorf("--devices %d: must be between 0 and %d", o.cfg.Devices, webexsim.MaxDevices))
	}
	for _, t := range o.cfg.Tokens {
		if t == "" || strings.ContainsAny(t, " \t") {
			errs = append(errs, errors.New("--token: tokens must be non-empty and contain no whitespace"))
			break
		}
	}
	if o.cfg.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("--rate %v: must be >= 0", o.cfg.RateLimit))
	}
	if o.cfg.Burst < 0 {
		errs = append(errs, fmt.Errorf("--burst %d: must be >= 0", o.cfg.Burst))
	}
	valid := false
	for _, f := range webexsim.RetryAfterForms {
		valid = valid || f == o.cfg.RetryAfterForm
	}
	if !valid {
		errs = append(errs, fmt.Errorf("--retry-after-form %q: must be one of %v", o.retryForm, webexsim.RetryAfterForms))
	}
	for name, d := range map[string]time.Duration{"--latency": o.cfg.Latency, "--jitter": o.cfg.Jitter, "--locked-retry-after": o.cfg.LockedRetryAfter} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must be >= 0", name, d))
		}
	}
	sum := 0.0
	for _, k := range webexsim.FaultKinds {
		r := o.cfg.FaultRates[k]
		if r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("--fault-rate-%s %v: must be between 0 and 1", k, r))
		}
		sum += r
	}
	if sum > 1 {
		errs = append(errs, fmt.Errorf("--fault-rate-*: rates sum to %v, must be at most 1", sum))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: must be text or json", o.logFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Anything the flags above do not cover is still checked by the package.
	return o.cfg.Validate()
}

// Main runs webexsim with args (without the program name) until ctx ends,
// and returns the process exit code: 0, 1, or 2 for a usage error.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := run(ctx, args, getenv, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		msg := err.Error()
		if !strings.HasPrefix(msg, "webexsim: ") { // the simulator's own errors say it already
			msg = "webexsim: " + msg
		}
		fmt.Fprintln(stderr, msg)
	}
	return exitcode.Of(err)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parse(args, getenv, stdout)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(h)
	o.cfg.Logger = log

	sim, err := webexsim.New(o.cfg)
	if err != nil {
		return err
	}
	defer sim.Close()
	if o.idsOut != "" {
		if err := writeIDs(o.idsOut, sim.IDs()); err != nil {
			return err
		}
	}
	base, err := sim.Start(o.listen)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "WEBEX_API_URL=%s\nWEBEX_TOKEN=%s\n", base, o.cfg.Tokens[0]); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	log.Info("serving", slog.String("url", base), slog.Int("devices", sim.Len()), slog.Int64("seed", o.cfg.Seed))
	<-ctx.Done()
	log.Info("shutting down")
	return sim.Close()
}

func writeIDs(path string, ids []string) error {
	var b strings.Builder
	b.Grow(len(ids) * 93)
	for _, id := range ids {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("--ids-out: %w", err)
	}
	return nil
}

// controlHelp is the --help of the /_sim endpoints, which take no token:
// they are for the person or test driving the simulator.
const controlHelp = `
Control endpoints (no token), under the served URL's host:
  POST /_sim/churn        one round of changes, answered with what changed (IDs,
                          old and new values). Fields: shares from 0 to 1 of the
                          devices whose ipChange, macChange or activationChange
                          (the details), softwareChange, statusChange or
                          lastSeenChange (the listing only); remove (a share,
                          gone: 404) and add (a number of new devices); seed.
                          curl -d '{"seed":2,"ipChange":0.1,"macChange":0.02,"activationChange":0.03,"remove":0.01,"add":5}' http://127.0.0.1:8089/_sim/churn
  GET /_sim/stats         requests served: details, listing, by HTTP status,
                          throttled, faults
  POST /_sim/reset-stats  start the counts again
  GET or POST /_sim/rate-limit  the limit now; {"rate":10,"burst":3} changes it
`
