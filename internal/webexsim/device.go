package webexsim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/deviceid"
)

// Device is the truth about one device, with typed fields, as the simulator
// serves it. Tests compare what a client decoded against it.
type Device struct {
	ID              string // telephony (Get Device Details) ID: base64 of ciscospark://us/CALLING_DEVICE/<uuid>
	ListID          string // what /v1/devices reports as "id": ciscospark://us/DEVICE/<the same uuid>
	Manufacturer    string // CISCO or THIRD_PARTY
	ManagedBy       string // CUSTOMER, PARTNER or CISCO
	Model           string // e.g. "DMS Cisco 8811"
	IP              string // as served; may be ""
	IPOmitted       bool   // the "ip" key is absent from the body (IP is then "")
	MAC             string // 12 uppercase hex digits, no separators, as served
	ActivationState string // activating, activated, deactivated; "" = key absent
	Tags            []string
	// UpgradeChannelEnabled is the value; UpgradeAsString says whether it is
	// served as the JSON string "true"/"false" (as the vendor's own example does)
	// rather than a JSON boolean.
	UpgradeChannelEnabled bool
	UpgradeAsString       bool
	OwnerSIPUserName      string
	OwnerLinePort         string
	OutboundProxy         string // "" = proxy object absent

	// What only the listing (/v1/devices) carries.
	Type             string // "phone" (MACs listed without colons) or "roomdesk" (with colons)
	CallingIDOmitted bool   // the item has no callingDeviceId (the real API's schema does not promise it)
	// AnswersAsDevice: the details answer names the device by its unpadded
	// DEVICE-type ID, as the spec's own example does, whatever was asked.
	AnswersAsDevice  bool
	ConnectionStatus string // one of ConnectionStatuses
	Software         string
	Serial           string
	LastSeen         time.Time
	Created          time.Time
	PersonID         string // "" for a workspace's device
	WorkspaceID      string // "" for a person's device
	LocationID       string
}

// ConnectionStatuses is the full documented set, in the vendor's order.
var ConnectionStatuses = []string{
	"connected", "disconnected", "connected_with_issues", "offline_expired",
	"activating", "unknown", "offline_deep_sleep", "pending",
}

// connWeights is the initial share (per mille) of each status, indexed as
// ConnectionStatuses: most phones are connected, and few are activating (a
// device waits there only between its activation code and its first
// registration).
var connWeights = [...]int{800, 60, 40, 30, 2, 38, 20, 10}

// roomModels are the room and desk devices, listed with colon MACs.
var roomModels = []model{
	{"Cisco Desk Pro", "Cisco Desk Pro", "CISCO", 0x5C5AC7, 1},
	{"Cisco Room Bar", "Cisco Room Bar", "CISCO", 0x5C5AC7, 1},
	{"Cisco Board Pro 55", "Cisco Board Pro 55", "CISCO", 0x5C5AC7, 1},
}

// epoch anchors the listing's times, so that the same seed gives the same
// bodies whenever the simulator runs. Each churn step moves a changed
// device's lastSeen one minute past it.
var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Activation states, indexed by rec.act (0 = absent).
var activationStates = [...]string{"", "activating", "activated", "deactivated"}

type model struct {
	name, product, manufacturer string
	oui                         uint32 // a real OUI of the vendor, so MACs look right
	weight                      int
}

// models is weighted towards the Cisco MPP phones that dominate real estates.
var models = []model{
	{"DMS Cisco 8811", "Cisco 8811", "CISCO", 0x0C1167, 20},
	{"DMS Cisco 8851", "Cisco 8851", "CISCO", 0xF87B20, 15},
	{"DMS Cisco 8841", "Cisco 8841", "CISCO", 0x0C1167, 10},
	{"DMS Cisco 8845", "Cisco 8845", "CISCO", 0x70DB98, 8},
	{"DMS Cisco 8865", "Cisco 8865", "CISCO", 0x70DB98, 7},
	{"DMS Cisco 7841", "Cisco 7841", "CISCO", 0x00EBD5, 12},
	{"DMS Cisco 7821", "Cisco 7821", "CISCO", 0x00EBD5, 6},
	{"DMS Cisco 6871", "Cisco 6871", "CISCO", 0xA0F849, 8},
	{"DMS Cisco 6851", "Cisco 6851", "CISCO", 0xA0F849, 4},
	{"Poly VVX 450", "Poly VVX 450", "THIRD_PARTY", 0x0004F2, 4},
	{"Yealink T54W", "Yealink T54W", "THIRD_PARTY", 0x805EC0, 4},
	{"Yealink T46U", "Yealink T46U", "THIRD_PARTY", 0x249AD8, 2},
}

var tagPool = []string{"floor-1", "floor-2", "lobby", "reception", "warehouse", "sales", "support", "conference room", "exec", "lab"}

var proxies = []string{"hs17.hosted-int.bcld.webex.com", "peer-us10.bcld.webex.com", "sbc-dfw.bcld.webex.com", "sbc-ord.bcld.webex.com"}

const (
	ipNormal uint8 = iota
	ipEmpty
	ipOmitted
)

// rec is how a device is stored: everything that churn can change, plus the
// generation number from which every other field is re-derived on demand. full
// replaces the derivation once a test has edited the device arbitrarily.
type rec struct {
	full   *Device
	gen    uint32
	ip     uint32
	mac    uint32 // low 24 bits; the OUI comes from the model
	ipMode uint8
	act    uint8
	conn   uint8  // index into ConnectionStatuses
	sw     uint8  // software version number; upgrades add one
	seen   uint16 // churn step that last moved lastSeen
}

// generator derives devices from (seed, generation number). It is pure, so the
// same seed always yields the same devices whatever the population size.
type generator struct {
	seed       uint64
	lineDomain string // per-org suffix of owner.linePort
}

func newGenerator(seed int64) generator {
	r := newRNG(uint64(seed), 0xD0, 0)
	return generator{
		seed:       uint64(seed),
		lineDomain: fmt.Sprintf("@%08d.int10.bcld.webex.com", r.intn(100_000_000)),
	}
}

// splitmix64: tiny, fast, and good enough for synthetic data and fault dice.
type rng struct{ s uint64 }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func newRNG(seed, stream, i uint64) rng {
	return rng{s: mix(seed^mix(stream*0x9E3779B97F4A7C15+i)) ^ i}
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix(r.s)
}

// intn's modulo bias is irrelevant for synthetic data.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) uuid() [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], r.next())
	binary.BigEndian.PutUint64(u[8:], r.next())
	u[6] = u[6]&0x0F | 0x40
	u[8] = u[8]&0x3F | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return strings.ToUpper(string(b[:]))
}

const (
	callingPrefix = "ciscospark://us/CALLING_DEVICE/"
	devicePrefix  = "ciscospark://us/DEVICE/"
)

func encodeID(prefix string, u [16]byte) string {
	return base64.StdEncoding.EncodeToString([]byte(prefix + formatUUID(u)))
}

// parseDeviceID accepts every spelling of a device ID that Webex accepts:
// the CALLING_DEVICE or DEVICE type, padded or not, standard or URL
// alphabet, any region, the UUID in either case. The simulator's own
// spelling takes the fast path.
func parseDeviceID(id string) ([16]byte, bool) {
	if u, ok := parseCallingID(id); ok {
		return u, true
	}
	var u [16]byte
	s, err := deviceid.UUID(id)
	if err != nil {
		return u, false
	}
	hexs := strings.ReplaceAll(s, "-", "")
	if _, err := hex.Decode(u[:], []byte(hexs)); err != nil {
		return u, false
	}
	return u, true
}

// parseCallingID accepts exactly the spelling this simulator issues
// (standard padded base64, CALLING_DEVICE, upper-case UUID).
func parseCallingID(id string) ([16]byte, bool) {
	var u [16]byte
	raw, err := base64.StdEncoding.Strict().DecodeString(id)
	if err != nil || len(raw) != len(callingPrefix)+36 || string(raw[:len(callingPrefix)]) != callingPrefix {
		return u, false
	}
	s := raw[len(callingPrefix):]
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	hexs := make([]byte, 0, 32)
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return u, false
		}
		hexs = append(hexs, c)
	}
	if _, err := hex.Decode(u[:], hexs); err != nil {
		return u, false
	}
	return u, true
}

// permute24 is a bijection on 24 bits, so distinct sequence numbers give
// distinct MACs that still look random.
func permute24(x, salt uint32) uint32 {
	const mask = 1<<24 - 1
	x = (x ^ salt) & mask
	x = (x * 0xB5AD4B) & mask
	x ^= x >> 11
	x = (x * 0x2C1B3D) & mask
	x ^= x >> 13
	return x
}

func formatMAC(oui, low uint32) string {
	return fmt.Sprintf("%06X%06X", oui, low&(1<<24-1))
}

func formatIP(ip uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ip)
	return netip.AddrFrom4(b).String()
}

// randomIP draws a private IPv4 address, mostly 10/8 as in most enterprise voice VLANs.
func randomIP(r *rng) uint32 {
	host := uint32(1 + r.intn(254))
	switch p := r.intn(100); {
	case p < 70:
		return 10<<24 | uint32(r.intn(256))<<16 | uint32(r.intn(256))<<8 | host
	case p < 85:
		return 172<<24 | uint32(16+r.intn(16))<<16 | uint32(r.intn(256))<<8 | host
	default:
		return 192<<24 | 168<<16 | uint32(r.intn(256))<<8 | host
	}
}

func (g generator) macSalt() uint32 { return uint32(mix(g.seed ^ 0x3AC)) }

// uuid is the first draw of a device's stream, so IDs can be derived without
// building the whole device.
func (g generator) uuid(gen uint32) [16]byte {
	r := newRNG(g.seed, 1, uint64(gen))
	return r.uuid()
}

func (g generator) id(gen uint32) string { return encodeID(callingPrefix, g.uuid(gen)) }

// newRec draws the churnable fields of device gen.
func (g generator) newRec(gen uint32) rec {
	r := newRNG(g.seed, 2, uint64(gen))
	rc := rec{gen: gen, ip: randomIP(&r), mac: permute24(gen, g.macSalt())}
	switch p := r.intn(100); {
	case p < 2:
		rc.ipMode = ipEmpty
	case p < 4:
		rc.ipMode = ipOmitted
	}
	// About 40% of devices were added with an activation code; a few are
	// still activating (waiting for their first registration).
	switch p := r.intn(1000); {
	case p < 2:
		rc.act = 1
	case p < 320:
		rc.act = 2
	case p < 400:
		rc.act = 3
	}
	r5 := newRNG(g.seed, 5, uint64(gen))
	p := r5.intn(1000)
	for i, w := range connWeights {
		if p < w {
			rc.conn = uint8(i)
			break
		}
		p -= w
	}
	rc.sw = uint8(r5.intn(4))
	// The listing's status agrees with the activation: a device waiting for
	// its first registration is "activating", and only such a device is; a
	// deactivated one is not connected.
	const connected, disconnected, activating = 0, 1, 4
	switch {
	case rc.act == 1:
		rc.conn = activating
	case rc.conn == activating:
		rc.conn = connected
	case rc.act == 3 && rc.conn == connected:
		rc.conn = disconnected
	}
	return rc
}

// device builds the full device for a stored record.
func (g generator) device(rc *rec) Device {
	if rc.full != nil {
		d := *rc.full
		d.Tags = append([]string(nil), d.Tags...)
		return d
	}
	r := newRNG(g.seed, 1, uint64(rc.gen))
	u := r.uuid()
	r.uuid() // once the listing's different ID; kept so a seed's devices stay the same
	m := g.model(&r)
	d := Device{
		ID:           encodeID(callingPrefix, u),
		Manufacturer: m.manufacturer,
		Model:        m.name,
		MAC:          formatMAC(m.oui, rc.mac),
	}
	switch p := r.intn(100); {
	case p < 70:
		d.ManagedBy = "CUSTOMER"
	case p < 90:
		d.ManagedBy = "PARTNER"
	default:
		d.ManagedBy = "CISCO"
	}
	var nTags int
	switch p := r.intn(100); {
	case p < 30:
	case p < 65:
		nTags = 1
	case p < 90:
		nTags = 2
	default:
		nTags = 3
	}
	d.Tags = make([]string, 0, nTags)
	for len(d.Tags) < nTags {
		t := tagPool[r.intn(len(tagPool))]
		if !slices.Contains(d.Tags, t) {
			d.Tags = append(d.Tags, t)
		}
	}
	d.UpgradeChannelEnabled = r.intn(2) == 0
	// The vendor page's string was a typo, fixed in the spec in 2025: rare.
	d.UpgradeAsString = r.intn(100) < 2
	d.OwnerSIPUserName = strconv.Itoa(100_000 + r.intn(900_000_000))
	d.OwnerLinePort = base36(r.next(), 10) + g.lineDomain
	if r.intn(100) < 85 {
		d.OutboundProxy = proxies[r.intn(len(proxies))]
	}
	switch rc.ipMode {
	case ipNormal:
		d.IP = formatIP(rc.ip)
	case ipOmitted:
		d.IPOmitted = true
	}
	d.ActivationState = activationStates[rc.act]
	g.listingFields(&d, rc)
	return d
}

// listingFields fills what only the listing carries, from a stream of its
// own so that the details fields stay what they were for a seed.
func (g generator) listingFields(d *Device, rc *rec) {
	r := newRNG(g.seed, 5, uint64(rc.gen))
	r.intn(1000) // the connection status draw of newRec
	r.intn(4)    // the software draw of newRec
	u, _ := parseCallingID(d.ID)
	d.ListID = encodeID(devicePrefix, u)
	d.Type = "phone"
	family := "sip" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(product(d.Model), "Cisco ")), " ", "")
	if r.intn(100) < 4 {
		m := roomModels[r.intn(len(roomModels))]
		d.Type, d.Model, d.Manufacturer = "roomdesk", m.name, m.manufacturer
		d.MAC = formatMAC(m.oui, rc.mac)
		d.Software = fmt.Sprintf("RoomOS 11.%d.1.5 %08x", 20+int(rc.sw), uint32(mix(uint64(rc.sw))))
	} else {
		d.Software = fmt.Sprintf("%s.12-%d-1-0001-%d", family, 1+int(rc.sw)/10, 1+int(rc.sw)%10)
	}
	d.CallingIDOmitted = r.intn(100) < 10
	d.ConnectionStatus = ConnectionStatuses[rc.conn]
	d.Serial = "FCH" + strings.ToUpper(base36(r.next(), 8))
	d.Created = epoch.Add(-time.Duration(24*30+r.intn(24*900)) * time.Hour)
	d.LastSeen = epoch.Add(time.Duration(rc.seen)*time.Minute - time.Duration(r.intn(3600))*time.Second)
	if d.Type == "phone" && r.intn(100) < 85 {
		d.PersonID = encodeID("ciscospark://us/PEOPLE/", r.uuid())
	} else {
		d.WorkspaceID = encodeID("ciscospark://us/PLACE/", r.uuid())
	}
	loc := newRNG(g.seed, 6, uint64(r.intn(20)))
	d.LocationID = encodeID("ciscospark://us/LOCATION/", loc.uuid())
	d.AnswersAsDevice = r.intn(100) < 25
}

// answerID is the id a details answer carries.
func (d *Device) answerID() string {
	if !d.AnswersAsDevice {
		return d.ID
	}
	u, ok := parseDeviceID(d.ID)
	if !ok {
		return d.ID
	}
	return base64.RawStdEncoding.EncodeToString([]byte(devicePrefix + formatUUID(u)))
}

func (g generator) model(r *rng) model {
	p := r.intn(100)
	for _, m := range models {
		if p < m.weight {
			return m
		}
		p -= m.weight
	}
	return models[0]
}

// product is the /v1/devices "product" for a model name.
func product(modelName string) string {
	for _, m := range roomModels {
		if m.name == modelName {
			return m.product
		}
	}
	for _, m := range models {
		if m.name == modelName {
			return m.product
		}
	}
	return strings.TrimPrefix(modelName, "DMS ")
}

func base36(v uint64, n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[v%36]
		v /= 36
	}
	return string(b)
}
