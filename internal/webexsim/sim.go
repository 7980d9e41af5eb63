package webexsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is one simulated Webex tenant. All methods are safe for concurrent use.
type Sim struct {
	cfg       Config
	gen       generator
	orgID     string
	trackSalt uint64
	dice      faultDice
	limiter   *limiter
	log       *slog.Logger

	mu     sync.RWMutex
	recs   []rec               // every device ever created, in creation order
	byUUID map[[16]byte]uint32 // present devices: UUID of ID -> index in recs
	order  []uint32            // present devices, ascending index in recs = stable order
	seq    uint32              // next generation / MAC sequence number
	steps  uint16              // churn steps so far: lastSeen moves to the latest
	lag    map[string]lagged   // listing entries one pass late (ListingLag), by device ID
	walks  uint64              // complete walks of the listing so far

	tokens atomic.Pointer[map[string]struct{}]
	faults faultTable
	stats  stats
	reqSeq atomic.Uint64

	closing   chan struct{}
	closeOnce sync.Once
	srvMu     sync.Mutex
	srv       *http.Server
	served    chan struct{}
	closed    bool
}

// maxSeq bounds sequence numbers: MACs are an OUI plus a 24-bit permutation of one.
const maxSeq = 1 << 24

// New validates cfg and generates its population.
func New(cfg Config) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webexsim config: %w", err)
	}
	cfg = cfg.withDefaults()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := newGenerator(cfg.Seed)
	s := &Sim{
		cfg:       cfg,
		gen:       g,
		orgID:     cfg.OrgID,
		trackSalt: mix(uint64(cfg.Seed) ^ 0x7AC),
		dice:      newFaultDice(cfg.FaultRates),
		limiter:   newLimiter(cfg.RateLimit, cfg.Burst, slices.Clone(cfg.RateSchedule)),
		log:       logger,
		recs:      make([]rec, 0, cfg.Devices),
		byUUID:    make(map[[16]byte]uint32, cfg.Devices),
		order:     make([]uint32, 0, cfg.Devices),
		closing:   make(chan struct{}),
	}
	if s.orgID == "" {
		r := newRNG(uint64(cfg.Seed), 0x0A, 0)
		s.orgID = encodeID("ciscospark://us/ORGANIZATION/", r.uuid())
	}
	s.SetTokens(cfg.Tokens...)
	s.add(cfg.Devices)
	return s, nil
}

// add creates n devices at the end of the order and returns their indexes.
// Callers hold s.mu for writing (or own s exclusively).
func (s *Sim) add(n int) []uint32 {
	added := make([]uint32, 0, n)
	for len(added) < n && s.seq < maxSeq {
		gen := s.seq
		s.seq++
		u := s.gen.uuid(gen)
		if _, dup := s.byUUID[u]; dup {
			continue // a 122-bit collision: skip the number rather than alias two devices
		}
		idx := uint32(len(s.recs))
		s.recs = append(s.recs, s.gen.newRec(gen))
		s.byUUID[u] = idx
		s.order = append(s.order, idx)
		added = append(added, idx)
	}
	return added
}

// lookup returns the index of present device id. Callers hold s.mu.
func (s *Sim) lookup(id string) (uint32, bool) {
	u, ok := parseDeviceID(id)
	if !ok {
		return 0, false
	}
	idx, ok := s.byUUID[u]
	return idx, ok
}

// Device returns the truth about a present device.
func (s *Sim) Device(id string) (Device, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.lookup(id)
	if !ok {
		return Device{}, false
	}
	return s.gen.device(&s.recs[idx]), true
}

// Devices returns every present device in stable order: creation order, which
// is also the listing order.
func (s *Sim) Devices() []Device {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Device, len(s.order))
	for i, idx := range s.order {
		out[i] = s.gen.device(&s.recs[idx])
	}
	return out
}

// IDs returns the IDs of every present device, in the order of Devices.
func (s *Sim) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, len(s.order))
	for i, idx := range s.order {
		out[i] = s.gen.id(s.recs[idx].gen)
	}
	return out
}

// Len is the number of present devices.
func (s *Sim) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.order)
}

// OrgID is the organisation ID the listing reports.
func (s *Sim) OrgID() string { return s.orgID }

// Update edits a present device in place and reports whether it exists. ID and
// ListID are identity and are restored if fn changes them. fn runs under the
// store's lock: it must not call back into s.
func (s *Sim) Update(id string, fn func(*Device)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.lookup(id)
	if !ok {
		return false
	}
	rc := &s.recs[idx]
	d := s.gen.device(rc)
	fn(&d)
	orig := s.gen.device(rc)
	d.ID, d.ListID = orig.ID, orig.ListID
	d.Tags = slices.Clone(d.Tags)
	rc.full = &d
	return true
}

// Remove deletes a present device: it then answers 404 and is no longer listed.
func (s *Sim) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.lookup(id)
	if !ok {
		return false
	}
	s.removeIdx([]uint32{idx})
	return true
}

// removeIdx drops devices from the map and the order. Callers hold s.mu.
func (s *Sim) removeIdx(idxs []uint32) {
	gone := make(map[uint32]bool, len(idxs))
	for _, idx := range idxs {
		gone[idx] = true
		delete(s.byUUID, s.gen.uuid(s.recs[idx].gen))
		s.recs[idx].full = nil // let a hand-edited device's memory go
	}
	s.order = slices.DeleteFunc(s.order, func(idx uint32) bool { return gone[idx] })
}

// SetTokens replaces the accepted bearer tokens, e.g. to simulate rotation:
// requests with a token no longer in the set get 401 from then on.
func (s *Sim) SetTokens(tokens ...string) {
	set := make(map[string]struct{}, len(tokens))
	for _, t := range tokens {
		set[t] = struct{}{}
	}
	s.tokens.Store(&set)
}

func (s *Sim) validToken(t string) bool {
	if t == "" {
		return false
	}
	_, ok := (*s.tokens.Load())[t]
	return ok
}

// Handler serves the API and the /_sim endpoints, for use with httptest or a
// server of the caller's own.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start serves on addr (default 127.0.0.1:0) until Close and returns the base
// URL clients should use, ending in /v1.
func (s *Sim) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.closed {
		return "", errors.New("webexsim: start after close")
	}
	if s.srv != nil {
		return "", errors.New("webexsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("webexsim: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("webexsim serve", slog.String("error", err.Error()))
		}
	}()
	return "http://" + ln.Addr().String() + "/v1", nil
}

// Close releases stalled and delayed handlers and, if Start was called, stops
// the server and waits for it. It is safe to call more than once.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	s.closed = true
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.served
	s.srv = nil
	return err
}

// sleep waits d unless the request or the simulator ends first.
func (s *Sim) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}
