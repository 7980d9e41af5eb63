package webexsim

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts the /v1 requests the simulator received (not /_sim ones, so that
// polling the counters does not change them).
type Stats struct {
	Requests    int64         `json:"requests"`
	ByStatus    map[int]int64 `json:"byStatus"`    // status actually sent; stalls that never sent headers are absent
	RateLimited int64         `json:"rateLimited"` // 429s from the rate limiter
	Details     int64         `json:"details"`     // requests to /v1/telephony/config/devices/{id}
	List        int64         `json:"list"`        // requests to /v1/devices
	Other       int64         `json:"other"`       // any other /v1 path
	// Faults counts injected faults that were actually applied, by kind.
	Faults map[FaultKind]int64 `json:"faults"`
	// ActiveStalls is how many stalled handlers are blocked right now; it returns
	// to zero once clients give up, which is how tests see that nothing leaked.
	ActiveStalls int64 `json:"activeStalls"`
	// MaxPerSecond is the most requests that arrived within one wall-clock
	// second (arrival time truncated to the second).
	MaxPerSecond int64 `json:"maxPerSecond"`
	// MaxPerSlidingSecond is the most requests in any one-second window, the
	// window sliding in 10 ms steps (so it may miss at most one 10 ms slot's
	// worth of the exact sliding maximum). It is never below MaxPerSecond.
	MaxPerSlidingSecond int64     `json:"maxPerSlidingSecond"`
	FirstRequest        time.Time `json:"firstRequest"`
	LastRequest         time.Time `json:"lastRequest"`
}

const (
	slotWidth = 10 * time.Millisecond
	nSlots    = int64(time.Second / slotWidth)
)

// stats keeps hot counters in atomics; only the time windows share a mutex,
// held for a few dozen nanoseconds per request.
type stats struct {
	requests, rateLimited, details, list, other, activeStalls atomic.Int64
	byStatus                                                  [600]atomic.Int64

	mu          sync.Mutex
	first, last time.Time
	sec         int64 // current wall-clock second
	secCount    int64
	maxSec      int64
	tick        int64 // current 10 ms slot number
	slots       [nSlots]int64
	window      int64 // sum of slots: requests in the last second
	maxWindow   int64
	faults      map[FaultKind]int64
}

func (s *stats) arrive(now time.Time) {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first.IsZero() {
		s.first = now
	}
	if now.After(s.last) {
		s.last = now
	}
	// Arrivals are stamped before the lock, so one may be a hair older than the
	// current bucket; it is counted in the current one rather than rewinding.
	if sec := now.Unix(); sec > s.sec {
		s.sec, s.secCount = sec, 0
	}
	s.secCount++
	s.maxSec = max(s.maxSec, s.secCount)

	if t := now.UnixNano() / int64(slotWidth); t > s.tick {
		if t-s.tick >= nSlots {
			s.slots = [nSlots]int64{}
			s.window = 0
		} else {
			for k := s.tick + 1; k <= t; k++ {
				s.window -= s.slots[k%nSlots]
				s.slots[k%nSlots] = 0
			}
		}
		s.tick = t
	}
	s.slots[s.tick%nSlots]++
	s.window++
	s.maxWindow = max(s.maxWindow, s.window)
}

func (s *stats) status(code int) {
	if code > 0 && code < len(s.byStatus) {
		s.byStatus[code].Add(1)
	}
}

func (s *stats) fault(k FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = make(map[FaultKind]int64)
	}
	s.faults[k]++
}

func (s *stats) snapshot() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		ByStatus:     make(map[int]int64),
		RateLimited:  s.rateLimited.Load(),
		Details:      s.details.Load(),
		List:         s.list.Load(),
		Other:        s.other.Load(),
		Faults:       make(map[FaultKind]int64),
		ActiveStalls: s.activeStalls.Load(),
	}
	for i := range s.byStatus {
		if n := s.byStatus[i].Load(); n > 0 {
			st.ByStatus[i] = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.faults {
		st.Faults[k] = v
	}
	st.MaxPerSecond, st.MaxPerSlidingSecond = s.maxSec, s.maxWindow
	st.FirstRequest, st.LastRequest = s.first, s.last
	return st
}

// reset zeroes everything except ActiveStalls, which is a gauge of handlers
// still blocked, not a count.
func (s *stats) reset() {
	for _, c := range []*atomic.Int64{&s.requests, &s.rateLimited, &s.details, &s.list, &s.other} {
		c.Store(0)
	}
	for i := range s.byStatus {
		s.byStatus[i].Store(0)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.first, s.last = time.Time{}, time.Time{}
	s.sec, s.secCount, s.maxSec = 0, 0, 0
	s.tick, s.slots, s.window, s.maxWindow = 0, [nSlots]int64{}, 0, 0
	s.faults = nil
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters, e.g. between phases of a test.
func (s *Sim) ResetStats() { s.stats.reset() }
