package webexsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// The listing's view of a device can differ from the details' (issue 13):
// behind a NAT it shows the site's address (Config.ListingNAT), and it can
// show a change one pass late (Config.ListingLag). A pass is one complete
// walk of the listing: a page served with no next link, unfiltered.

// lagged is what the listing still shows of a device for a while after a
// change: the old value of each field that changed ("" = no override).
type lagged struct {
	ip, mac, conn string
	hasIP         bool
	untilWalk     uint64 // served while walks < untilWalk
}

// natAddress is the one address the cloud sees for every device of a
// location.
func natAddress(locationID string) string {
	h := fnv.New32a()
	h.Write([]byte(locationID))
	v := h.Sum32()
	return fmt.Sprintf("198.51.%d.%d", v>>8%256, 1+v%254)
}

// listView applies the listing's own view to a device about to be listed.
// Callers hold s.mu (read).
func (s *Sim) listView(d *Device) {
	if l, ok := s.lag[d.ID]; ok && s.walks < l.untilWalk {
		if l.hasIP {
			d.IP = l.ip
		}
		if l.mac != "" {
			d.MAC = l.mac
		}
		if l.conn != "" {
			d.ConnectionStatus = l.conn
		}
	}
	if s.cfg.ListingNAT && d.IP != "" {
		d.IP = natAddress(d.LocationID)
	}
}

// lagChanges picks, of the step's IP, MAC and connection status changes,
// the share Config.ListingLag that the listing shows one pass late.
// Callers hold s.mu.
func (s *Sim) lagChanges(rep *ChurnReport, rnd *rand.Rand) {
	if s.cfg.ListingLag <= 0 {
		return
	}
	if s.lag == nil {
		s.lag = map[string]lagged{}
	}
	until := s.walks + 1
	entry := func(id string) lagged {
		l := s.lag[id]
		if l.untilWalk != until {
			l = lagged{untilWalk: until}
		}
		return l
	}
	for _, fc := range rep.IPChanged {
		if rnd.Float64() < s.cfg.ListingLag {
			l := entry(fc.ID)
			l.ip, l.hasIP = fc.Old, true
			s.lag[fc.ID] = l
		}
	}
	for _, fc := range rep.MACChanged {
		if rnd.Float64() < s.cfg.ListingLag {
			l := entry(fc.ID)
			l.mac = fc.Old
			s.lag[fc.ID] = l
		}
	}
	for _, fc := range rep.StatusChanged {
		if rnd.Float64() < s.cfg.ListingLag {
			l := entry(fc.ID)
			l.conn = fc.Old
			s.lag[fc.ID] = l
		}
	}
}

// walked records a complete walk of the listing: the lagging entries of
// the pass before expire.
func (s *Sim) walked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.walks++
	for id, l := range s.lag {
		if s.walks >= l.untilWalk {
			delete(s.lag, id)
		}
	}
}
