package webexsim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// DefaultToken is the bearer token accepted when Config.Tokens is empty. It is a
// simulator's demo value, not a secret.
const DefaultToken = "webexsim-demo-token"

// MaxDevices bounds Config.Devices. MACs are unique per 24-bit sequence number and
// churn consumes sequence numbers too, so the population must leave headroom.
const MaxDevices = 4_000_000

// RetryAfterForm selects how a 429 (and a 423) spells its Retry-After header.
// Webex normally sends whole seconds, but every other form below has been seen.
type RetryAfterForm string

const (
	RetryAfterSeconds  RetryAfterForm = "seconds"   // "2": ceil of the time until a token frees up
	RetryAfterHTTPDate RetryAfterForm = "http-date" // "Mon, 02 Jan 2006 15:04:05 GMT"
	// RetryAfterSpaces sends "2 seconds". Go's net/http trims leading and trailing
	// blanks from header values, so " 2 " cannot be put on the wire; the inner space
	// is what breaks naive integer parsing anyway.
	RetryAfterSpaces RetryAfterForm = "spaces"
	RetryAfterRand   RetryAfterForm = "rand" // the literal "rand(30),add(30)"
	RetryAfterNone   RetryAfterForm = "none" // header absent
	// RetryAfterZero sends "0", which says nothing about when to come back:
	// a client that took it literally would send again at once.
	RetryAfterZero RetryAfterForm = "zero"
)

// RetryAfterForms lists every accepted form, for flag help and validation.
var RetryAfterForms = []RetryAfterForm{RetryAfterSeconds, RetryAfterHTTPDate, RetryAfterSpaces, RetryAfterRand, RetryAfterNone, RetryAfterZero}

// Config describes a simulator. The zero value serves no devices, accepts
// DefaultToken, and never throttles or fails.
type Config struct {
	// Devices is the size of the generated population.
	Devices int
	// Seed makes the population, tracking IDs and random faults reproducible.
	Seed int64
	// Tokens are the accepted bearer tokens; empty means {DefaultToken}.
	// Sim.SetTokens replaces the set at runtime.
	Tokens []string
	// Scopes limits tokens to some scopes (ScopeTelephonyConfigRead,
	// ScopeDevicesRead): a request to an endpoint whose scope its token
	// lacks gets 403. A token not in the map has every scope.
	Scopes map[string][]string
	// OrgID is reported in listing items; empty derives one from Seed.
	OrgID string

	// RateLimit is the sustained requests per second allowed per token (0 = unlimited).
	RateLimit float64
	// Burst is the bucket size; 0 means max(1, ceil(RateLimit)). 1 is a
	// strict server, which refuses any two requests closer than 1/RateLimit;
	// a large one forgives long bursts.
	Burst int
	// RateSchedule changes RateLimit (and Burst) while the simulator
	// serves, each step at its time from the first request; Sim.SetRateLimit
	// and POST /_sim/rate-limit change it at once.
	RateSchedule []RateStep
	// RetryAfterForm is the spelling of Retry-After on 429 and 423; empty = seconds.
	RetryAfterForm RetryAfterForm
	// LockedRetryAfter is the wait advertised by injected 423s; 0 = 1s.
	LockedRetryAfter time.Duration

	// Latency is added to every /v1 request, plus a uniform random [0, Jitter).
	Latency time.Duration
	Jitter  time.Duration

	// FaultRates gives, per fault kind, the probability that a device-details
	// request suffers it. Rates must sum to at most 1.
	FaultRates map[FaultKind]float64

	// DropFiltersOnNext makes listing next links keep only max and start, dropping
	// type and orgId, as some Webex deployments do.
	DropFiltersOnNext bool
	// ListTimeoutAbove makes a listing page whose max exceeds it answer 504,
	// as a real listing of large pages does (0 = never). The API's advice
	// on a 504 is a smaller max.
	ListTimeoutAbove int

	// ListingNAT makes the listing show, for every device, the address the
	// cloud sees behind a site's NAT: one address per location, whatever
	// the phone's own IP (which the details keep showing). Nothing
	// documents that the two endpoints agree on ip; this is how they might
	// not.
	ListingNAT bool
	// ListingLag is the share of the IP, MAC and connection status changes
	// of a Churn step that the listing shows one pass late: the first
	// complete walk of the listing after the step still serves the old
	// value, the next one the new.
	ListingLag float64
	// ListingHidesDeactivation keeps a deactivated device's connection
	// status in the listing as it was. How the real listing follows a
	// deactivation is not documented: by default a deactivated device drops
	// off ("disconnected"), as an activation moves it; with this set the
	// change shows only in the details, the case a list-guided run can
	// catch only when the device's details are refreshed.
	ListingHidesDeactivation bool

	// Logger receives server errors (nil = discard).
	Logger *slog.Logger
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if !(c.ListingLag >= 0 && c.ListingLag <= 1) {
		errs = append(errs, fmt.Errorf("ListingLag %v: must be between 0 and 1", c.ListingLag))
	}
	if c.Devices < 0 || c.Devices > MaxDevices {
		errs = append(errs, fmt.Errorf("devices %d: must be between 0 and %d", c.Devices, MaxDevices))
	}
	for i, t := range c.Tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			errs = append(errs, fmt.Errorf("tokens[%d]: must be non-empty and contain no whitespace", i))
		}
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate limit %v: must be a finite number >= 0", c.RateLimit))
	}
	if c.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d: must be >= 0", c.Burst))
	}
	if err := validateSchedule(c.RateSchedule); err != nil {
		errs = append(errs, err)
	}
	if c.RetryAfterForm != "" && !validForm(c.RetryAfterForm) {
		errs = append(errs, fmt.Errorf("retry-after form %q: must be one of %v", c.RetryAfterForm, RetryAfterForms))
	}
	if c.LockedRetryAfter < 0 {
		errs = append(errs, fmt.Errorf("locked retry-after %v: must be >= 0", c.LockedRetryAfter))
	}
	if c.ListTimeoutAbove < 0 {
		errs = append(errs, fmt.Errorf("list timeout above %d: must be >= 0", c.ListTimeoutAbove))
	}
	if c.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %v: must be >= 0", c.Latency))
	}
	if c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("jitter %v: must be >= 0", c.Jitter))
	}
	sum := 0.0
	for k, r := range c.FaultRates {
		if !k.valid() {
			errs = append(errs, fmt.Errorf("fault rate for %q: unknown fault kind (known: %v)", k, FaultKinds))
			continue
		}
		if !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("fault rate for %q = %v: must be between 0 and 1", k, r))
			continue
		}
		sum += r
	}
	if sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("fault rates sum to %v: must be at most 1", sum))
	}
	return errors.Join(errs...)
}

func validForm(f RetryAfterForm) bool {
	for _, v := range RetryAfterForms {
		if f == v {
			return true
		}
	}
	return false
}

// withDefaults fills the zero values documented on Config.
func (c Config) withDefaults() Config {
	if len(c.Tokens) == 0 {
		c.Tokens = []string{DefaultToken}
	}
	if c.RetryAfterForm == "" {
		c.RetryAfterForm = RetryAfterSeconds
	}
	if c.LockedRetryAfter == 0 {
		c.LockedRetryAfter = time.Second
	}
	if c.RateLimit > 0 && c.Burst == 0 {
		c.Burst = max(1, int(math.Ceil(c.RateLimit)))
	}
	return c
}
