package webexsim

import (
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind names one way a request can go wrong. The string is what flags,
// /_sim/stats and Config.FaultRates keys use.
type FaultKind string

const (
	FaultLocked            FaultKind = "423" // 423 Locked with Retry-After (in the configured form)
	FaultInternal          FaultKind = "500"
	FaultBadGateway        FaultKind = "502"
	FaultUnavailable       FaultKind = "503"
	FaultGatewayTimeout    FaultKind = "504"
	FaultForbidden         FaultKind = "403" // this device is not visible to this token
	FaultGone              FaultKind = "410"
	FaultStall             FaultKind = "stall"              // nothing is sent until the client gives up
	FaultStallAfterHeaders FaultKind = "stall-headers"      // 200 and headers are sent, then nothing
	FaultTruncated         FaultKind = "truncated"          // 200 with the JSON body cut in half (Content-Length matches)
	FaultMalformed         FaultKind = "malformed"          // 200, JSON content type, HTML error page body
	FaultWrongContentType  FaultKind = "wrong-content-type" // 200, text/html, valid JSON body
	FaultOversize          FaultKind = "oversize"           // 200 with a valid JSON body over 2 MiB
	FaultWrongID           FaultKind = "wrong-id"           // 200 with a body whose id is not the requested one
)

// FaultKinds lists every kind, in flag-help order.
var FaultKinds = []FaultKind{
	FaultLocked, FaultInternal, FaultBadGateway, FaultUnavailable, FaultGatewayTimeout,
	FaultForbidden, FaultGone, FaultStall, FaultStallAfterHeaders,
	FaultTruncated, FaultMalformed, FaultWrongContentType, FaultOversize, FaultWrongID,
}

func (k FaultKind) valid() bool {
	for _, v := range FaultKinds {
		if k == v {
			return true
		}
	}
	return false
}

// statusFaults maps kinds answered with an error status to that status and message.
var statusFaults = map[FaultKind]struct {
	status int
	msg    string
}{
	FaultLocked:         {423, "The requested resource is temporarily unavailable."},
	FaultInternal:       {500, "Something went wrong on the server."},
	FaultBadGateway:     {502, "Bad Gateway."},
	FaultUnavailable:    {503, "Service Unavailable."},
	FaultGatewayTimeout: {504, "Gateway Timeout."},
	FaultForbidden:      {403, "The request is understood, but it has been refused or access is not allowed."},
	FaultGone:           {410, "The requested resource is no longer available."},
}

// Fault is a fault planted on a device (or on the listing) by SetFault.
// With Skip and Times a test can say "requests 1-2 of device X fail, then it
// works": the fault applies to the requests numbered Skip+1 .. Skip+Times,
// counted from when it was set; Times 0 means every request after Skip.
type Fault struct {
	Kind  FaultKind
	Skip  int
	Times int
	// RetryAfter overrides Config.LockedRetryAfter for a planted 423.
	RetryAfter time.Duration
}

type plantedFault struct {
	f    Fault
	seen int
}

// faultTable holds planted faults. count lets the hot path skip the mutex when
// no test planted anything, which is the benchmark case.
type faultTable struct {
	count  atomic.Int32
	mu     sync.Mutex
	byID   map[string]*plantedFault
	onList *plantedFault
}

func (t *faultTable) set(id string, f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = make(map[string]*plantedFault)
	}
	t.byID[id] = &plantedFault{f: f}
	t.count.Store(int32(len(t.byID)) + t.listCount())
}

func (t *faultTable) clear(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byID, id)
	t.count.Store(int32(len(t.byID)) + t.listCount())
}

func (t *faultTable) setList(f *Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onList = nil
	if f != nil {
		t.onList = &plantedFault{f: *f}
	}
	t.count.Store(int32(len(t.byID)) + t.listCount())
}

func (t *faultTable) listCount() int32 {
	if t.onList != nil {
		return 1
	}
	return 0
}

// take counts one request against the planted fault and says whether it applies.
func (t *faultTable) take(id string, list bool) (Fault, bool) {
	if t.count.Load() == 0 {
		return Fault{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.onList
	if !list {
		p = t.byID[id]
	}
	if p == nil {
		return Fault{}, false
	}
	p.seen++
	if p.seen <= p.f.Skip || (p.f.Times > 0 && p.seen > p.f.Skip+p.f.Times) {
		return Fault{}, false
	}
	return p.f, true
}

// faultDice turns Config.FaultRates into cumulative thresholds, in FaultKinds
// order so the same seed gives the same faults.
type faultDice []struct {
	kind FaultKind
	upTo float64
}

func newFaultDice(rates map[FaultKind]float64) faultDice {
	var d faultDice
	sum := 0.0
	for _, k := range FaultKinds {
		if r := rates[k]; r > 0 {
			sum += r
			d = append(d, struct {
				kind FaultKind
				upTo float64
			}{k, sum})
		}
	}
	return d
}

// roll picks a fault for request number seq. Hashing the sequence number, not
// sharing one RNG, keeps this lock-free and reproducible for a serial client.
func (d faultDice) roll(seed, seq uint64) (FaultKind, bool) {
	if len(d) == 0 {
		return "", false
	}
	r := newRNG(seed, 3, seq)
	u := r.float()
	for _, e := range d {
		if u < e.upTo {
			return e.kind, true
		}
	}
	return "", false
}

// SetFault plants f on device id (any string: a fault may target an unknown ID).
// It replaces any fault already planted there and restarts its request count.
func (s *Sim) SetFault(id string, f Fault) { s.faults.set(id, f) }

// ClearFault removes the fault planted on device id.
func (s *Sim) ClearFault(id string) { s.faults.clear(id) }

// SetListFault plants f on GET /v1/devices, so that, say, the second page
// (Skip: 1, Times: 1) fails. Body faults that need a device (oversize, wrong-id)
// do not apply to the listing.
func (s *Sim) SetListFault(f Fault) { s.faults.setList(&f) }

// ClearListFault removes the listing fault.
func (s *Sim) ClearListFault() { s.faults.setList(nil) }
