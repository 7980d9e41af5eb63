package webexsim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/device"
)

const (
	contentTypeJSON = "application/json;charset=UTF-8"
	contentTypeHTML = "text/html; charset=UTF-8"
	detailsPrefix   = "/v1/telephony/config/devices/"
	listPath        = "/v1/devices"
	defaultPageSize = 100
	// listPageCap is the listing's page size cap: a larger max is silently
	// reduced, as the real endpoint does with its undocumented cap.
	listPageCap = 100

	msgUnauthorized = "The request requires a valid access token set in the Authorization request header."
	msgRateLimited  = "Too many requests have been sent in a given amount of time and the request has been rate limited."
	msgNotFound     = "The requested resource could not be found."
	msgNoDevice     = "Device not found."
)

// Shared header values: net/http only reads them, and building a fresh slice per
// response is measurable at benchmark rates.
var (
	jsonCTValue = []string{contentTypeJSON}
	htmlCTValue = []string{contentTypeHTML}
)

// htmlErrorPage is what a load balancer in front of an API returns with a 200
// when things go badly: not JSON at all.
var htmlErrorPage = []byte("<html><head><title>Error</title></head><body><h1>An error occurred.</h1><p>Sorry, the page you are looking for is currently unavailable.</p></body></html>\n")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Routing is by hand on the escaped path: the device ID must be exactly one
// escaped segment, so an ID with an escaped '/' or '?' is an unknown device, and
// nothing is ever redirected the way http.ServeMux cleans paths.
func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if strings.HasPrefix(path, "/_sim/") {
		s.serveOps(w, r, path)
		return
	}
	now := time.Now()
	seq := s.reqSeq.Add(1)
	s.stats.arrive(now)
	tid := trackingID(s.trackSalt, seq)
	// Set directly to keep Webex's spelling on the wire; clients read it
	// case-insensitively anyway.
	w.Header()["TrackingID"] = []string{tid}
	s.stats.status(s.serveAPI(w, r, path, seq, tid, now))
}

// serveAPI answers one /v1 request and returns the status it sent.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, path string, seq uint64, tid string, now time.Time) int {
	isDetails, isList := strings.HasPrefix(path, detailsPrefix), path == listPath
	switch {
	case isDetails:
		s.stats.details.Add(1)
	case isList:
		s.stats.list.Add(1)
	default:
		s.stats.other.Add(1)
	}
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok || !s.validToken(tok) {
		return s.writeError(w, http.StatusUnauthorized, msgUnauthorized, tid)
	}
	if ok, wait := s.limiter.allow(tok, now); !ok {
		s.stats.rateLimited.Add(1)
		setRetryAfter(w.Header(), s.cfg.RetryAfterForm, wait, now)
		return s.writeError(w, http.StatusTooManyRequests, msgRateLimited, tid)
	}
	if (isDetails && !s.hasScope(tok, ScopeTelephonyConfigRead)) || (isList && !s.hasScope(tok, ScopeDevicesRead)) {
		return s.writeError(w, http.StatusForbidden, msgMissingScope, tid)
	}
	if r.Method != http.MethodGet {
		return s.writeError(w, http.StatusMethodNotAllowed, "The request was made to a resource using an HTTP request method that is not supported.", tid)
	}
	if d := s.delay(seq); d > 0 && !s.sleep(r.Context(), d) {
		return 0 // the client gave up or the simulator closed; nobody is listening
	}
	switch {
	case isDetails:
		return s.serveDetails(w, r, path[len(detailsPrefix):], seq, tid, now)
	case isList:
		return s.serveList(w, r, tid, now)
	default:
		return s.writeError(w, http.StatusNotFound, msgNotFound, tid)
	}
}

func bearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// delay is Config.Latency plus uniform jitter, drawn from the request number.
func (s *Sim) delay(seq uint64) time.Duration {
	d := s.cfg.Latency
	if s.cfg.Jitter > 0 {
		r := newRNG(s.gen.seed, 4, seq)
		d += time.Duration(r.float() * float64(s.cfg.Jitter))
	}
	return d
}

func (s *Sim) serveDetails(w http.ResponseWriter, r *http.Request, seg string, seq uint64, tid string, now time.Time) int {
	var id string // "" never matches a device
	if seg != "" && !strings.Contains(seg, "/") {
		if v, err := url.PathUnescape(seg); err == nil {
			id = v
		}
	}
	f, faulted := s.faults.take(id, false)
	if !faulted {
		if k, ok := s.dice.roll(s.gen.seed, seq); ok {
			f, faulted = Fault{Kind: k}, true
		}
	}
	if faulted {
		if status, done := s.serveEarlyFault(w, r, f, tid, now); done {
			return status
		}
	}

	s.mu.RLock()
	idx, ok := s.lookup(id)
	var d Device
	if ok {
		d = s.gen.device(&s.recs[idx])
	}
	s.mu.RUnlock()
	if !ok {
		return s.writeError(w, http.StatusNotFound, msgNoDevice, tid)
	}

	ct := jsonCTValue
	if faulted {
		switch f.Kind {
		case FaultOversize:
			d.Tags = append(d.Tags, oversizeTags()...)
		case FaultWrongID:
			u, _ := parseCallingID(d.ID)
			u[15] ^= 0xFF
			d.ID = encodeID(callingPrefix, u)
		case FaultWrongContentType:
			ct = htmlCTValue
		}
	}
	bp := bufPool.Get().(*[]byte)
	b := appendDetails((*bp)[:0], &d)
	if faulted {
		if f.Kind == FaultTruncated {
			b = b[:len(b)/2]
		}
		s.stats.fault(f.Kind)
	}
	status := s.write(w, http.StatusOK, ct, b)
	if cap(b) <= 64<<10 { // do not pin oversize buffers in the pool
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return status
}

// serveEarlyFault answers the faults that do not need the device: error
// statuses, stalls and the HTML page. done is false for body faults.
func (s *Sim) serveEarlyFault(w http.ResponseWriter, r *http.Request, f Fault, tid string, now time.Time) (status int, done bool) {
	if sf, ok := statusFaults[f.Kind]; ok {
		s.stats.fault(f.Kind)
		if f.Kind == FaultLocked {
			wait := f.RetryAfter
			if wait <= 0 {
				wait = s.cfg.LockedRetryAfter
			}
			setRetryAfter(w.Header(), s.cfg.RetryAfterForm, wait, now)
		}
		return s.writeError(w, sf.status, sf.msg, tid), true
	}
	switch f.Kind {
	case FaultStall, FaultStallAfterHeaders:
		s.stats.fault(f.Kind)
		s.stall(w, r, f.Kind == FaultStallAfterHeaders)
	case FaultMalformed:
		s.stats.fault(f.Kind)
		return s.write(w, http.StatusOK, jsonCTValue, htmlErrorPage), true
	}
	return 0, false
}

// stall blocks until the client gives up or the simulator closes, then aborts
// the connection: returning normally would finish the response as an empty 200.
func (s *Sim) stall(w http.ResponseWriter, r *http.Request, sendHeaders bool) {
	s.stats.activeStalls.Add(1)
	defer s.stats.activeStalls.Add(-1)
	if sendHeaders {
		w.Header()["Content-Type"] = jsonCTValue
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush() // best effort: the headers must reach the client
		s.stats.status(http.StatusOK)
	}
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
	panic(http.ErrAbortHandler)
}

func (s *Sim) serveList(w http.ResponseWriter, r *http.Request, tid string, now time.Time) int {
	q := r.URL.Query()
	limit, err := intParam(q, "max", defaultPageSize)
	if err != nil || limit < 1 {
		return s.writeError(w, http.StatusBadRequest, "max must be a positive integer.", tid)
	}
	if above := s.cfg.ListTimeoutAbove; above > 0 && limit > above {
		s.stats.fault(FaultGatewayTimeout)
		return s.writeError(w, http.StatusGatewayTimeout, "Gateway Timeout. Try a smaller max.", tid)
	}
	limit = min(limit, listPageCap)
	start, err := intParam(q, "start", 0)
	if err != nil || start < 0 {
		return s.writeError(w, http.StatusBadRequest, "start must be a non-negative integer.", tid)
	}
	var macFilter string
	if m := q.Get("mac"); m != "" {
		hw, ok := device.ParseMAC(m)
		if !ok {
			return s.writeError(w, http.StatusBadRequest, "mac is not a MAC address.", tid)
		}
		macFilter = strings.ToUpper(hex.EncodeToString(hw))
	}
	f, faulted := s.faults.take("", true)
	if faulted {
		if status, done := s.serveEarlyFault(w, r, f, tid, now); done {
			return status
		}
	}

	page, total := s.listSlice(q.Get("type"), macFilter, start, limit)
	if start+limit >= total && q.Get("type") == "" && macFilter == "" {
		defer s.walked() // after this page is built: it is still part of the walk
	}

	b := make([]byte, 0, 64+len(page)*560)
	b = append(b, `{"items":[`...)
	for i := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendListItem(b, &page[i], s.orgID)
	}
	b = append(b, "]}"...)
	if start+limit < total {
		w.Header()["Link"] = []string{"<" + s.nextURL(r, q, start+limit, limit) + `>; rel="next"`}
	}
	ct := jsonCTValue
	if faulted {
		switch f.Kind {
		case FaultTruncated:
			b = b[:len(b)/2]
			s.stats.fault(f.Kind)
		case FaultWrongContentType:
			ct = htmlCTValue
			s.stats.fault(f.Kind)
		}
	}
	return s.write(w, http.StatusOK, ct, b)
}

// listSlice returns the devices at [start, start+limit) of the listing
// under the type and MAC filters, and how many the filters let through.
func (s *Sim) listSlice(typ, mac string, start, limit int) ([]Device, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if typ == "" && mac == "" {
		total := len(s.order)
		if start >= total {
			return nil, total
		}
		end := min(total, start+limit)
		page := make([]Device, 0, end-start)
		for _, idx := range s.order[start:end] {
			d := s.gen.device(&s.recs[idx])
			s.listView(&d)
			page = append(page, d)
		}
		return page, total
	}
	// A filtered listing builds every device: fine for tests and the
	// occasional look-up, not for paging a million devices.
	var page []Device
	total := 0
	for _, idx := range s.order {
		d := s.gen.device(&s.recs[idx])
		s.listView(&d)
		if (typ != "" && d.Type != typ) || (mac != "" && d.MAC != mac) {
			continue
		}
		if total >= start && total < start+limit {
			page = append(page, d)
		}
		total++
	}
	return page, total
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

// nextURL is absolute, as Webex's are. With DropFiltersOnNext it keeps only the
// paging parameters, which is the quirk a client must survive.
func (s *Sim) nextURL(r *http.Request, q url.Values, start, limit int) string {
	nq := url.Values{}
	if !s.cfg.DropFiltersOnNext {
		for k, v := range q {
			nq[k] = v
		}
	}
	nq.Set("max", strconv.Itoa(limit))
	nq.Set("start", strconv.Itoa(start))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + listPath + "?" + nq.Encode()
}

func (s *Sim) writeError(w http.ResponseWriter, status int, msg, tid string) int {
	bp := bufPool.Get().(*[]byte)
	b := appendError((*bp)[:0], msg, tid)
	s.write(w, status, jsonCTValue, b)
	*bp = b[:0]
	bufPool.Put(bp)
	return status
}

func (s *Sim) write(w http.ResponseWriter, status int, ct []string, body []byte) int {
	h := w.Header()
	h["Content-Type"] = ct
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that hung up is not the simulator's problem
	return status
}

// serveOps serves the /_sim endpoints. They take no token: they are for the
// test or operator driving the simulator, which binds loopback by default.
func (s *Sim) serveOps(w http.ResponseWriter, r *http.Request, path string) {
	const tid = "webexsim"
	switch {
	case path == "/_sim/stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case path == "/_sim/reset-stats" && r.Method == http.MethodPost:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case path == "/_sim/churn" && r.Method == http.MethodPost:
		var spec ChurnSpec
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		err := dec.Decode(&spec)
		if err == nil {
			err = spec.Validate()
		}
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "churn spec: "+err.Error(), tid)
			return
		}
		writeJSON(w, http.StatusOK, s.Churn(spec))
	case path == "/_sim/rate-limit" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.RateLimit())
	case path == "/_sim/rate-limit" && r.Method == http.MethodPost:
		var set struct {
			Rate  *float64 `json:"rate"`
			Burst int      `json:"burst"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
		dec.DisallowUnknownFields()
		err := dec.Decode(&set)
		if err == nil && set.Rate == nil {
			err = errors.New(`"rate" is required (0 lifts the limit)`)
		}
		if err == nil {
			err = s.SetRateLimit(*set.Rate, set.Burst)
		}
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "rate limit: "+strings.TrimPrefix(err.Error(), "webexsim: "), tid)
			return
		}
		writeJSON(w, http.StatusOK, s.RateLimit())
	case path == "/_sim/stats" || path == "/_sim/reset-stats" || path == "/_sim/churn" || path == "/_sim/rate-limit":
		s.writeError(w, http.StatusMethodNotAllowed, "method not allowed", tid)
	default:
		s.writeError(w, http.StatusNotFound, "unknown simulator endpoint", tid)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs and maps are marshalled here; failure is a bug.
		panic(errors.Join(errors.New("webexsim: marshal"), err))
	}
	w.Header()["Content-Type"] = jsonCTValue
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
