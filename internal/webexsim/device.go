package webexsim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Device is the truth about one device, with typed fields, as the simulator
// serves it. Tests compare what a client decoded against it.
type Device struct {
	ID              string // telephony (Get Device Details) ID: base64 of ciscospark://us/CALLING_DEVICE/<uuid>
	ListID          string // the different ID /v1/devices reports as "id"
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
}

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

// parseCallingID accepts exactly the IDs this simulator issues. Anything else,
// including a differently padded or lower-cased spelling of a real ID, is unknown:
// Webex IDs are opaque and a client must send them back verbatim.
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
	// About 40% of devices were added with an activation code.
	switch p := r.intn(100); {
	case p < 8:
		rc.act = 1
	case p < 32:
		rc.act = 2
	case p < 40:
		rc.act = 3
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
	lu := r.uuid()
	m := g.model(&r)
	d := Device{
		ID:           encodeID(callingPrefix, u),
		ListID:       encodeID(devicePrefix, lu),
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
		if !contains(d.Tags, t) {
			d.Tags = append(d.Tags, t)
		}
	}
	d.UpgradeChannelEnabled = r.intn(2) == 0
	d.UpgradeAsString = r.intn(100) < 30
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
	return d
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
	for _, m := range models {
		if m.name == modelName {
			return m.product
		}
	}
	return strings.TrimPrefix(modelName, "DMS ")
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
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
