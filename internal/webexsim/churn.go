package webexsim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ChurnSpec says how much of the present population changes in one step.
// Fractions are of the devices present before the step.
type ChurnSpec struct {
	Seed             int64   `json:"seed"`
	IPChange         float64 `json:"ipChange"`
	MACChange        float64 `json:"macChange"`
	ActivationChange float64 `json:"activationChange"`
	// What only the listing shows: a software upgrade, a connection status
	// flip (connected to another state, any other state to connected), a
	// lastSeen that moves on to this step's minute.
	SoftwareChange float64 `json:"softwareChange"`
	StatusChange   float64 `json:"statusChange"`
	LastSeenChange float64 `json:"lastSeenChange"`
	Remove         float64 `json:"remove"`
	Add            int     `json:"add"`
}

// Validate reports every out-of-range field. Churn itself clamps instead, so a
// caller that skips Validate still gets a sensible step.
func (c ChurnSpec) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"ipChange", c.IPChange}, {"macChange", c.MACChange}, {"activationChange", c.ActivationChange},
		{"softwareChange", c.SoftwareChange}, {"statusChange", c.StatusChange}, {"lastSeenChange", c.LastSeenChange}, {"remove", c.Remove}} {
		if !(f.v >= 0 && f.v <= 1) {
			errs = append(errs, fmt.Errorf("%s %v: must be between 0 and 1", f.name, f.v))
		}
	}
	if c.Add < 0 || c.Add > MaxDevices {
		errs = append(errs, fmt.Errorf("add %d: must be between 0 and %d", c.Add, MaxDevices))
	}
	return errors.Join(errs...)
}

// FieldChange is one device's field going from Old to New ("" = absent).
type FieldChange struct {
	ID  string `json:"id"`
	Old string `json:"old"`
	New string `json:"new"`
}

// ChurnReport says exactly what a Churn step did, each list in device order.
// Removed devices are never among the changed ones, and added devices start
// fresh, so a test can predict every served body.
type ChurnReport struct {
	IPChanged  []FieldChange `json:"ipChanged"`
	MACChanged []FieldChange `json:"macChanged"`
	// An activation change also sets the listing's connectionStatus:
	// activating, connected (activated) or disconnected (deactivated).
	ActivationChanged []FieldChange `json:"activationChanged"`
	SoftwareChanged   []FieldChange `json:"softwareChanged,omitempty"`
	StatusChanged     []FieldChange `json:"statusChanged,omitempty"`
	LastSeenChanged   []FieldChange `json:"lastSeenChanged,omitempty"` // RFC 3339 times
	Removed           []string      `json:"removed"`
	Added             []string      `json:"added"`
}

// nextActivation is the life cycle of an activation code: a device without one
// gets one, an activating device completes, an activated one is deactivated,
// and a deactivated one is given a new code.
var nextActivation = [...]uint8{0: 1, 1: 2, 2: 3, 3: 1}

func clamp01(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return math.Min(v, 1)
}

// Churn applies one step of change, chosen reproducibly from spec.Seed and the
// current population: removals first, then IP, MAC, activation, software,
// connection status and lastSeen changes among the survivors (a device may
// get several), then additions.
func (s *Sim) Churn(spec ChurnSpec) ChurnReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	rnd := rand.New(rand.NewPCG(uint64(spec.Seed), 0xC4A2))
	n := len(s.order)
	count := func(f float64) int { return int(math.Round(clamp01(f) * float64(n))) }

	// Partial Fisher-Yates over a scratch copy picks k distinct devices from
	// the front of pool without shuffling all of it.
	pool := slices.Clone(s.order)
	pick := func(from []uint32, k int) []uint32 {
		for i := 0; i < k; i++ {
			j := i + rnd.IntN(len(from)-i)
			from[i], from[j] = from[j], from[i]
		}
		chosen := slices.Clone(from[:k])
		slices.Sort(chosen) // indexes ascend in device order
		return chosen
	}
	removed := pick(pool, count(spec.Remove))
	survivors := pool[len(removed):]
	k := func(f float64) int { return min(count(f), len(survivors)) }

	var rep ChurnReport
	for _, idx := range pick(survivors, k(spec.IPChange)) {
		rep.IPChanged = append(rep.IPChanged, s.changeIP(idx, rnd))
	}
	for _, idx := range pick(survivors, k(spec.MACChange)) {
		if s.seq >= maxSeq {
			break // out of unique MACs; the report says what did happen
		}
		rep.MACChanged = append(rep.MACChanged, s.changeMAC(idx))
	}
	for _, idx := range pick(survivors, k(spec.ActivationChange)) {
		rep.ActivationChanged = append(rep.ActivationChanged, s.changeActivation(idx))
	}
	if s.steps < math.MaxUint16 {
		s.steps++
	}
	for _, idx := range pick(survivors, k(spec.SoftwareChange)) {
		rep.SoftwareChanged = append(rep.SoftwareChanged, s.changeRec(idx, func(rc *rec) {
			if rc.sw < math.MaxUint8 {
				rc.sw++
			}
		}, func(d *Device) string { return d.Software }))
	}
	for _, idx := range pick(survivors, k(spec.StatusChange)) {
		rep.StatusChanged = append(rep.StatusChanged, s.changeRec(idx, func(rc *rec) {
			if rc.conn == 0 { // connected: to any other state
				rc.conn = uint8(1 + rnd.IntN(len(ConnectionStatuses)-1))
			} else {
				rc.conn = 0
			}
		}, func(d *Device) string { return d.ConnectionStatus }))
	}
	steps := s.steps
	for _, idx := range pick(survivors, k(spec.LastSeenChange)) {
		rep.LastSeenChanged = append(rep.LastSeenChanged, s.changeRec(idx, func(rc *rec) {
			rc.seen = steps
		}, func(d *Device) string { return d.LastSeen.Format(time.RFC3339Nano) }))
	}
	s.lagChanges(&rep, rnd)
	for _, idx := range removed {
		rep.Removed = append(rep.Removed, s.gen.id(s.recs[idx].gen))
	}
	s.removeIdx(removed)
	for _, idx := range s.add(max(0, spec.Add)) {
		rep.Added = append(rep.Added, s.gen.id(s.recs[idx].gen))
	}
	return rep
}

func (s *Sim) changeIP(idx uint32, rnd *rand.Rand) FieldChange {
	rc := &s.recs[idx]
	old := s.gen.device(rc)
	r := rng{s: rnd.Uint64()}
	ip := randomIP(&r)
	for formatIP(ip) == old.IP {
		ip = randomIP(&r)
	}
	if rc.full != nil {
		rc.full.IP, rc.full.IPOmitted = formatIP(ip), false
	} else {
		rc.ip, rc.ipMode = ip, ipNormal
	}
	return FieldChange{ID: old.ID, Old: old.IP, New: formatIP(ip)}
}

// changeMAC keeps the vendor's OUI (a phone's NIC does not change vendor) and
// takes a fresh sequence number, so the new MAC is unique.
func (s *Sim) changeMAC(idx uint32) FieldChange {
	rc := &s.recs[idx]
	old := s.gen.device(rc)
	low := permute24(s.seq, s.gen.macSalt())
	s.seq++
	if rc.full != nil {
		oui := "0C1167"
		if len(old.MAC) == 12 {
			oui = old.MAC[:6]
		}
		rc.full.MAC = fmt.Sprintf("%s%06X", oui, low)
	} else {
		rc.mac = low
	}
	return FieldChange{ID: old.ID, Old: old.MAC, New: s.gen.device(rc).MAC}
}

func (s *Sim) changeActivation(idx uint32) FieldChange {
	rc := &s.recs[idx]
	old := s.gen.device(rc)
	next := activationStates[1]
	for i, st := range activationStates {
		if st == old.ActivationState {
			next = activationStates[nextActivation[i]]
		}
	}
	if rc.full != nil {
		rc.full.ActivationState = next
	} else {
		rc.act = nextActivation[rc.act]
	}
	// The listing shows what an activation does to the device's
	// connection: a device given a code waits in "activating", one that
	// completes registers ("connected"), one deactivated drops off
	// ("disconnected").
	// Unless the listing hides deactivations (Config).
	if next != "deactivated" || !s.cfg.ListingHidesDeactivation {
		conn := map[string]string{"activating": "activating", "activated": "connected", "deactivated": "disconnected"}[next]
		rc.conn = connIndex(conn)
		if rc.full != nil {
			nd := *rc.full
			nd.ConnectionStatus = conn
			rc.full = &nd
		}
	}
	return FieldChange{ID: old.ID, Old: old.ActivationState, New: s.gen.device(rc).ActivationState}
}

// changeRec applies edit to a device's record and reports field before and
// after. A hand-edited device (Update) is changed through a scratch record
// (its software number is the record's: a hand-edited software string is
// replaced by the next upgrade), and the listing fields that churn moves
// are copied into the full device.
func (s *Sim) changeRec(idx uint32, edit func(*rec), field func(*Device) string) FieldChange {
	rc := &s.recs[idx]
	old := s.gen.device(rc)
	if rc.full == nil {
		edit(rc)
		nd := s.gen.device(rc)
		return FieldChange{ID: old.ID, Old: field(&old), New: field(&nd)}
	}
	scratch := *rc
	scratch.full = nil
	scratch.conn = connIndex(rc.full.ConnectionStatus)
	edit(&scratch)
	rc.conn, rc.sw, rc.seen = scratch.conn, scratch.sw, scratch.seen
	fresh := s.gen.device(&scratch)
	nd := *rc.full
	nd.ConnectionStatus, nd.Software, nd.LastSeen = fresh.ConnectionStatus, fresh.Software, fresh.LastSeen
	rc.full = &nd
	return FieldChange{ID: old.ID, Old: field(&old), New: field(&nd)}
}

func connIndex(status string) uint8 {
	for i, st := range ConnectionStatuses {
		if st == status {
			return uint8(i)
		}
	}
	return 0
}
