package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/wxc-inventory/wxc-sync/internal/device"
)

// DefaultBaseURL is the real Webex API.
const DefaultBaseURL = "https://webexapis.com/v1"

// Defaults of Options that the command line shows.
const (
	DefaultMaxAttempts    = 5
	DefaultRequestTimeout = 30 * time.Second
)

// Options configure a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL        string        // default DefaultBaseURL
	Tokens         TokenSource   // required
	HTTPClient     *http.Client  // default: a client with sane transport limits
	Limiter        *rate.Limiter // shared by every request, retries included; required
	MaxAttempts    int           // attempts per device for transient failures; default 5
	RequestTimeout time.Duration // per attempt, body included; default 30s
	// MaxRetryAfter caps a Retry-After wait; default 5m.
	MaxRetryAfter time.Duration
	// MaxThrottled bounds how many 429/423 answers one device may receive
	// before it is given up for this run; default 20. Throttling is a pacing
	// signal, so it does not count against MaxAttempts.
	MaxThrottled int
	BackoffBase  time.Duration // first transient back-off; default 500ms
	// UnreachableAfter is how many requests in a row, across every worker,
	// may end without any HTTP answer (connection refused, DNS failure,
	// timeout) before the client declares the API unreachable and fails
	// every request from then on with KindUnreachable; default 10.
	UnreachableAfter int
	BackoffMax       time.Duration // default 30s
	UserAgent        string
	Logger           *slog.Logger
}

// Client fetches device details from Webex. It is safe for concurrent use;
// every goroutine shares its limiter and its pause.
type Client struct {
	base    string
	opts    Options
	http    *http.Client
	limiter *rate.Limiter
	api     origin // where requests, and the token, may go
	pause   pauseGate
	gov     *governor
	gate    chan struct{} // one request at a time waits for its turn (see turn)
	log     *slog.Logger

	// noAnswer counts the requests in a row that got no HTTP answer;
	// answers counts the HTTP answers. unreachable holds the cause once
	// noAnswer reached UnreachableAfter.
	noAnswer    atomic.Int64
	noAnswerAt  atomic.Int64 // UnixNano of the streak's first failure; 0: no streak
	answers     atomic.Int64
	unreachable atomic.Pointer[string]

	requests  atomic.Int64
	listReqs  atomic.Int64
	throttled atomic.Int64
	retries   atomic.Int64
}

// Stats are the client's counters since it was created.
type Stats struct {
	Requests  int64 // HTTP requests sent
	Throttled int64 // 429 and 423 answers
	Retries   int64 // requests that repeated an earlier one
	// ListRequests is the part of Requests sent for device listing pages
	// (GET /v1/devices), retries included; the rest were details requests.
	ListRequests int64
	// Paused is how long throttles (429, 423) held every request of the
	// client: the pauses' wall time, overlapping pauses counted once.
	Paused time.Duration
}

// NewClient validates opts and builds a Client.
func NewClient(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if err := ValidateBaseURL(opts.BaseURL); err != nil {
		return nil, err
	}
	if err := CheckDetailsSupported(opts.BaseURL); err != nil {
		return nil, err
	}
	if opts.Tokens == nil {
		return nil, errors.New("fetch: no token source")
	}
	if opts.Limiter == nil {
		return nil, errors.New("fetch: no rate limiter")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 5 * time.Minute
	}
	if opts.MaxThrottled <= 0 {
		opts.MaxThrottled = 20
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.UnreachableAfter <= 0 {
		opts.UnreachableAfter = 10
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "wxc-sync"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		hc = &http.Client{Transport: tr}
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	api := originOf(base)
	// A copy, so that the caller's client keeps its own redirect policy.
	own := *hc
	own.CheckRedirect = redirectPolicy(api)
	// Start with an empty bucket: a burst at start-up would empty the
	// server's bucket too, and with the two rates equal it would never
	// refill, leaving every later request one jitter away from a 429.
	opts.Limiter.ReserveN(time.Now(), opts.Limiter.Burst())
	return &Client{
		base:    strings.TrimRight(opts.BaseURL, "/"),
		opts:    opts,
		http:    &own,
		api:     api,
		limiter: opts.Limiter,
		gov:     newGovernor(opts.Limiter, time.Now()),
		gate:    make(chan struct{}, 1),
		log:     opts.Logger,
	}, nil
}

// Resume makes ratePerSecond, the rate a previous run of the same scope
// ended with, the rate the client starts at, when it is below the
// configured rate and no request was sent yet: the client then probes
// upwards from there rather than learning Webex's limit anew, with a burst
// of one request. It reports whether it did.
func (c *Client) Resume(ratePerSecond float64) bool {
	return c.gov.resume(time.Now(), rate.Limit(ratePerSecond))
}

// Pace returns the rate the client sends at now (requests per second) and
// whether it paces itself under the configured rate: a 429 taught it a
// lower one, or Resume gave it one. A run stores it for the next.
func (c *Client) Pace() (float64, bool) {
	r, governed := c.gov.pace()
	return float64(r), governed
}

// ValidateBaseURL accepts https URLs, and http only for a loopback host (a
// local simulator): a bearer token must never cross a network in clear text.
func ValidateBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("API URL %q is not a URL: %w", raw, err)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("API URL %q has no host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("API URL must not carry credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("API URL %q must not have a query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("API URL %q uses plain http to a non-loopback host; use https", raw)
	default:
		return fmt.Errorf("API URL %q must use https", raw)
	}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Throttled: c.throttled.Load(), Retries: c.retries.Load(), ListRequests: c.listReqs.Load(),
		Paused: c.pause.paused()}
}

// ValidateID rejects IDs that cannot be a Webex ID before a request is built
// from them. Escaping alone keeps any ID inside its path segment, but "." and
// ".." are dot-segments that proxies resolve, and control characters have no
// business in a request line.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("device ID is empty")
	case len(id) > 1024:
		return fmt.Errorf("device ID is %d bytes long; at most 1024", len(id))
	case id == "." || id == "..":
		return fmt.Errorf("device ID %q is a path dot-segment", id)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("device ID contains whitespace, a control character or invalid UTF-8")
		}
	}
	return nil
}

// Device fetches one device's details. orgID may be empty. On failure the
// error is an *Error, or the context's error when ctx ended first.
func (c *Client) Device(ctx context.Context, id, orgID string) (device.Device, error) {
	if err := ValidateID(id); err != nil {
		return device.Device{}, &Error{Kind: KindRequest, Message: err.Error()}
	}
	u := c.base + "/telephony/config/devices/" + url.PathEscape(id)
	if orgID != "" {
		u += "?orgId=" + url.QueryEscape(orgID)
	}
	var dev device.Device
	err := c.get(ctx, request{
		url:     u,
		attrs:   []slog.Attr{slog.String("device_id", id)},
		maxBody: MaxBodyBytes,
		decode: func(_ *http.Response, body []byte) *Error {
			d, err := DecodeDevice(body, id)
			if err != nil {
				return &Error{Kind: KindBadPayload, Message: err.Error(), Err: err}
			}
			// What PostgreSQL cannot store is named and left out, so that
			// one value does not fail the device on every run.
			var problems []string
			d.Raw, problems = storable(d.Raw)
			d.Warnings = append(d.Warnings, problems...)
			dev = d
			return nil
		},
	})
	return dev, err
}

// request is one logical GET, sent through the client's policy by get.
type request struct {
	url     string
	attrs   []slog.Attr // what the request is about, for log lines
	maxBody int
	// retryBad retries a damaged 200 like a 5xx: right for a listing page,
	// which is not the server's last word on anything; wrong for a device,
	// whose bad payload is reported as it is.
	retryBad bool
	// forbidden explains a 403 that came without a message.
	forbidden string
	// shrink, when set, rewrites the URL before a 504 is retried: a
	// listing asks for a smaller page, as the API advises.
	shrink func(url string) string
	// listing counts the request in Stats.ListRequests.
	listing bool
	// decode reads a 200's body (already bounded and checked to be JSON).
	decode func(resp *http.Response, body []byte) *Error
}

// get sends r until it succeeds or the policy gives up: every attempt waits
// for the client-wide pause and a token of the shared limiter; 429 and 423
// pause the whole client; 5xx, timeouts and connection errors are retried
// with back-off up to MaxAttempts; a 401 re-reads the token once. On
// failure the error is an *Error, or the context's error when ctx ended (or
// a wait would outlast its deadline: context.DeadlineExceeded).
func (c *Client) get(ctx context.Context, r request) error {
	var (
		attempts, transient, throttled int
		refreshed                      bool
		answersBefore                  = c.answers.Load()
	)
	for {
		if ferr := c.unreachableErr(); ferr != nil {
			return ferr
		}
		mark, err := c.turn(ctx)
		if err != nil {
			return err
		}
		if attempts > 0 {
			c.retries.Add(1)
		}
		attempts++
		ferr, tok := c.once(ctx, r, mark)
		switch {
		case ferr == nil || (ferr.Kind != KindRateLimited && ferr.Status != 0):
			// Any answer but a 429 or 423 got past the server's limit.
			c.gov.accepted(time.Now(), mark)
		case ferr.Kind != KindRateLimited:
			// No answer (a 429 or 423 told the governor in throttle).
			c.gov.unanswered()
		}
		if ferr == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if cur, err := c.opts.Tokens.Token(); err == nil {
			scrubError(ferr, tok, cur)
		} else {
			scrubError(ferr, tok)
		}
		ferr.Attempts = attempts
		if ferr.noAnswer {
			if u := c.noAnswerSeen(ferr); u != nil {
				return u
			}
		}
		switch {
		case ferr.Kind == KindRateLimited:
			throttled++
			if throttled >= c.opts.MaxThrottled {
				return ferr
			}
			// the pause was extended in once
		case ferr.Kind == KindTransient, ferr.Kind == KindBadPayload && r.retryBad:
			transient++
			// A request that never got an answer, while no request of the
			// client got one either, says nothing about this device: it goes
			// on until an answer comes (then it gives up) or the client
			// declares the API unreachable, so that an outage does not mark
			// the devices it happened to hit as failed.
			if transient >= c.opts.MaxAttempts && !(ferr.noAnswer && c.answers.Load() == answersBefore) {
				return ferr
			}
			if ferr.Status == http.StatusGatewayTimeout && r.shrink != nil {
				r.url = r.shrink(r.url)
			}
			wait := c.backoff(transient)
			if ferr.noAnswer && c.answers.Load() == answersBefore {
				// Nobody answers: there is no server to be gentle with, and
				// the sooner the streak is long enough, the sooner the run
				// says the API is unreachable.
				wait = jitter(c.opts.BackoffBase)
			}
			if ferr.retryAfter > 0 {
				wait = ferr.retryAfter
			}
			c.log.LogAttrs(ctx, slog.LevelDebug, "retrying after a transient failure", append(r.attrs,
				slog.Int("http_status", ferr.Status), slog.String("tracking_id", ferr.TrackingID), slog.String("error_code", ferr.ErrorCode),
				slog.Int("attempt", attempts), seconds("backoff_seconds", wait), slog.String("error", ferr.Error()))...)
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		case ferr.Kind == KindUnauthorized:
			if refreshed {
				return ferr
			}
			refreshed = true
			changed, err := c.opts.Tokens.Refresh(tok)
			if err != nil {
				ferr.Message += "; re-reading the token failed: " + err.Error()
				return ferr
			}
			if !changed {
				return ferr
			}
			c.log.LogAttrs(ctx, slog.LevelInfo, "Webex rejected the token; retrying with the rotated one",
				append(r.attrs, slog.String("tracking_id", ferr.TrackingID))...)
		default:
			return ferr
		}
	}
}

// turn waits for a request's turn to be sent and returns its mark. Requests
// take turns at the gate: one at a time waits for a token of the limiter,
// at the rate in force when its turn comes (were every worker to queue at
// the limiter at once, it would book the seconds ahead at a rate the
// governor may since have moved). Then the pause, which may have begun
// meanwhile (a request sent during it would only earn another 429), and
// the governor's spacing. It fails with the context's error, or
// context.DeadlineExceeded when a wait would outlast the deadline.
func (c *Client) turn(ctx context.Context) (sendMark, error) {
	select {
	case c.gate <- struct{}{}:
	case <-ctx.Done():
		return sendMark{}, context.Cause(ctx)
	}
	defer func() { <-c.gate }()
	for {
		if err := c.pause.wait(ctx); err != nil {
			return sendMark{}, err
		}
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return sendMark{}, context.Cause(ctx)
			}
			// The wait would outlast the deadline: the same as running out
			// of time.
			return sendMark{}, context.DeadlineExceeded
		}
		for !c.pause.active() {
			m, wait := c.gov.admit(time.Now())
			if wait <= 0 {
				return m, nil
			}
			nap := sleep
			if c.gov.onTime() {
				nap = sleepOnTime
			}
			if err := nap(ctx, wait); err != nil {
				return sendMark{}, err
			}
		}
	}
}

// once sends r once. It returns the token it used, so that a 401 can tell
// whether the token has rotated since.
func (c *Client) once(ctx context.Context, r request, mark sendMark) (*Error, string) {
	tok, err := c.opts.Tokens.Token()
	if err != nil {
		return &Error{Kind: KindUnauthorized, Message: err.Error()}, ""
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return &Error{Kind: KindRequest, Message: "build request", Err: err}, tok
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)

	c.requests.Add(1)
	if r.listing {
		c.listReqs.Add(1)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if cert := certificateProblem(err); cert != nil {
			return &Error{Kind: KindCertificate, Message: cert.Error(), Err: cert}, tok
		}
		return &Error{Kind: KindTransient, Message: describeTransportError(ctx, err), Err: stripURL(err), noAnswer: true}, tok
	}
	defer resp.Body.Close()
	c.noAnswer.Store(0)
	c.noAnswerAt.Store(0)
	c.answers.Add(1)
	// Scrubbed here, not only in get: a 429's is logged before get sees it.
	tracking := truncate(scrub(resp.Header.Get("TrackingID"), tok), 100)

	if resp.StatusCode == http.StatusOK {
		ferr := c.readOK(ctx, resp, r)
		if ferr != nil {
			ferr.Status, ferr.TrackingID = resp.StatusCode, tracking
		}
		return ferr, tok
	}

	ferr := &Error{Status: resp.StatusCode, TrackingID: tracking}
	msg, bodyTracking, code := readErrorBody(resp.Body)
	ferr.ErrorCode = truncate(scrub(code, tok), 40)
	// Scrubbed before it is cut short, so that no piece of an echoed token
	// survives the cut.
	ferr.Message = truncate(scrub(msg, tok), 300)
	if ferr.TrackingID == "" {
		ferr.TrackingID = truncate(scrub(bodyTracking, tok), 100)
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		// Only a redirect the policy refused comes back here.
		ferr.Kind = KindRequest
		ferr.Message = redirectError(c.api, resp)
	case http.StatusNotFound, http.StatusGone:
		ferr.Kind = KindNotFound
	case http.StatusForbidden:
		ferr.Kind = KindForbidden
		if ferr.Message == "" {
			ferr.Message = r.forbidden
		}
	case http.StatusUnauthorized:
		// The kind and the status say it; callers (syncrun's
		// ErrUnauthorized) say it in words, once.
		ferr.Kind = KindUnauthorized
	case http.StatusTooManyRequests, http.StatusLocked:
		ferr.Kind = KindRateLimited
		c.throttled.Add(1)
		c.throttle(ctx, r.attrs, resp, ferr, mark, tok)
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusRequestTimeout:
		ferr.Kind = KindTransient
		if resp.StatusCode == http.StatusServiceUnavailable {
			// A 503 may say when to come back. It is about the service, not
			// about the rate: it delays this request's retry and does not
			// touch the governor. No usable value, or 0: the back-off.
			if wait, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				ferr.retryAfter = min(wait, c.opts.MaxRetryAfter)
			}
		}
	default:
		ferr.Kind = KindRequest
	}
	return ferr, tok
}

// readOK reads and checks a 200's body, then hands it to r.decode.
func (c *Client) readOK(ctx context.Context, resp *http.Response, r request) *Error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.maxBody)+1))
	if err != nil {
		return &Error{Kind: KindTransient, Message: "reading the response body: " + describeTransportError(ctx, err), Err: stripURL(err)}
	}
	if len(body) > r.maxBody {
		return &Error{Kind: KindBadPayload, Message: fmt.Sprintf("response body exceeds %d bytes", r.maxBody)}
	}
	if ct := resp.Header.Get("Content-Type"); !isJSON(ct) {
		return &Error{Kind: KindBadPayload, Message: fmt.Sprintf("response content type %q is not JSON", truncate(ct, 60))}
	}
	return r.decode(resp, body)
}

// throttle pauses the whole client: Webex applies a 429 to the token, so a
// request sent during the pause would only earn another one.
func (c *Client) throttle(ctx context.Context, attrs []slog.Attr, resp *http.Response, ferr *Error, mark sendMark, tok string) {
	raw := resp.Header.Get("Retry-After")
	// One burst of 429s is one decision: a 429 for a request sent before
	// the client knew of the burst changes neither the rate nor the
	// fallback pause.
	wait, ok := ParseRetryAfter(raw, time.Now())
	verdict := c.gov.refused(time.Now(), mark, !ok || wait <= 0)
	if !ok || wait <= 0 {
		// No usable value: back off by how many bursts in a row found the
		// server still refusing at once, with jitter so that a fleet of
		// clients does not resynchronise. "0" or a date in the past (a
		// server clock behind ours) says nothing about when to come back
		// either: sending again at once would only earn the next 429.
		wait = 0
		if verdict.pause {
			wait = jitter(c.pause.fallback(c.opts.BackoffBase*4, mark.n == 1))
		}
	}
	wait = min(wait, c.opts.MaxRetryAfter)
	_, end := c.pause.extend(wait)
	c.gov.paused(end)
	if verdict.pause {
		// Once a pause: the other 429s answer requests that left before
		// the client knew.
		rateNow := float64(c.gov.limit())
		c.log.LogAttrs(ctx, slog.LevelWarn, throttleMessage(wait, rateNow), append(attrs,
			slog.Int("http_status", resp.StatusCode),
			slog.String("tracking_id", ferr.TrackingID), slog.String("error_code", ferr.ErrorCode), slog.String("retry_after", truncate(scrub(raw, tok), 40)),
			seconds("pause_seconds", wait), slog.Float64("rate_now", rateNow),
			slog.Float64("server_rate_min", float64(verdict.lo)), slog.Float64("server_rate_max", float64(verdict.hi)))...)
	}
}

func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BackoffBase << min(n-1, 20)
	if d <= 0 || d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	return jitter(d)
}

// seconds is a duration log attribute: a number of seconds, with
// millisecond precision. Every duration the job logs is one (key suffix
// _seconds), so that a log store indexes each key with one type.
func seconds(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, math.Round(d.Seconds()*1000)/1000)
}

// jitter returns a duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// spinTail is the end of a wait that sleepOnTime spins through rather
// than sleeps: Go's timers fire up to a millisecond and more late (on the
// benchmark machine 0.7 ms on average, 0.15 ms to 1.1 ms from the 10th to
// the 90th percentile, in 40 ms waits), and the runtime waits in whole
// milliseconds.
const spinTail = 1500 * time.Microsecond

// sleepOnTime waits d as sleep does, but ends on time: it sleeps all but
// the last spinTail and spins through that, yielding the processor at
// every turn. Against a server whose bucket may hold a single token a
// request that leaves late loses that time for good (the next may not
// leave sooner), and a timer's lateness of 0.7 ms is 1.7% of a request's
// time at 25/s: the governor uses it there alone (see onTime), at a cost of
// about 2% of a core at 25 requests a second.
func sleepOnTime(ctx context.Context, d time.Duration) error {
	end := time.Now().Add(d)
	if d > spinTail {
		if err := sleep(ctx, d-spinTail); err != nil {
			return err
		}
	}
	for time.Now().Before(end) {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		runtime.Gosched()
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// readErrorBody extracts Webex's error message, tracking ID and errorCode
// (top level, else the first of errors[]; a number or a string), if the
// body has them. It reads a bounded amount: error bodies are small. The
// caller scrubs and shortens them.
func readErrorBody(r io.Reader) (msg, tracking, code string) {
	body, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e struct {
		Message   string          `json:"message"`
		ErrorCode json.RawMessage `json:"errorCode"`
		Errors    []struct {
			Description string          `json:"description"`
			ErrorCode   json.RawMessage `json:"errorCode"`
		} `json:"errors"`
		TrackingID string `json:"trackingId"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", "", ""
	}
	msg = e.Message
	if msg == "" && len(e.Errors) > 0 {
		msg = e.Errors[0].Description
	}
	code = errorCode(e.ErrorCode)
	for i := 0; code == "" && i < len(e.Errors); i++ {
		code = errorCode(e.Errors[i].ErrorCode)
	}
	return msg, e.TrackingID, code
}

// errorCode renders a JSON errorCode: a number as written, a string as is.
func errorCode(raw json.RawMessage) string {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

func describeTransportError(ctx context.Context, err error) string {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return "request timed out"
	}
	return stripURL(err).Error()
}

// stripURL drops the request URL that net/http puts in its errors: it is
// long and says nothing the device ID does not.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
