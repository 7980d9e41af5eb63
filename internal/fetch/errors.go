package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind says what went wrong with a request, in the terms the job acts on.
type Kind int

const (
	// KindNotFound: 404 or 410, the device no longer exists.
	KindNotFound Kind = iota + 1
	// KindForbidden: 403, the device is not visible to this token (a location
	// admin) or the scope is missing. Other devices may still succeed.
	KindForbidden
	// KindUnauthorized: 401, the token is missing, expired or wrong. Nothing
	// else will succeed.
	KindUnauthorized
	// KindRateLimited: 429 or 423 that was still being returned when the
	// client ran out of patience for this device.
	KindRateLimited
	// KindTransient: 5xx, a timeout or a connection error that persisted
	// through every attempt.
	KindTransient
	// KindBadPayload: a 200 whose body could not be used (not JSON, truncated,
	// too large, the wrong device).
	KindBadPayload
	// KindRequest: the request itself was refused (another 4xx), could not be
	// built (a malformed device ID), or was redirected to another origin;
	// retrying cannot help.
	KindRequest
	// KindCertificate: the API's TLS certificate could not be verified.
	// Nothing else will succeed either.
	KindCertificate
	// KindUnreachable: UnreachableAfter requests in a row got no HTTP answer
	// at all; the client sends nothing more. Nothing else will succeed either.
	KindUnreachable
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not found"
	case KindForbidden:
		return "forbidden"
	case KindUnauthorized:
		return "unauthorized"
	case KindRateLimited:
		return "rate limited"
	case KindTransient:
		return "transient"
	case KindBadPayload:
		return "bad payload"
	case KindRequest:
		return "bad request"
	case KindCertificate:
		return "untrusted certificate"
	case KindUnreachable:
		return "Webex API unreachable"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error is the error the client returns for a device it could not fetch.
// It never contains the token.
type Error struct {
	Kind       Kind
	Status     int    // HTTP status of the last response, 0 when none came back
	TrackingID string // Webex's tracking ID of the last response, for support cases
	ErrorCode  string // Webex's errorCode from the error body (top level, else errors[0]); "" when none
	Message    string // what Webex or the decoder said
	Attempts   int    // requests sent for this device
	Err        error  // underlying cause, if any (a net error, a JSON error)

	noAnswer bool // no HTTP answer came back (refused, DNS, timeout)
	// retryAfter is a 503's Retry-After, honoured instead of the back-off.
	retryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d %s)", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		msg += ": " + e.Message
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	switch {
	case e.TrackingID != "" && e.ErrorCode != "":
		msg += " [trackingId " + e.TrackingID + ", errorCode " + e.ErrorCode + "]"
	case e.TrackingID != "":
		msg += " [trackingId " + e.TrackingID + "]"
	case e.ErrorCode != "":
		msg += " [errorCode " + e.ErrorCode + "]"
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// StopsEverything reports whether k is an answer to the client rather than
// to one request: the token rejected (401), the API unreachable, or its
// certificate not trusted. Nothing else the client sends can succeed, so a
// run, a discovery or a look-up stops at once, and no device is blamed.
func (k Kind) StopsEverything() bool {
	return k == KindUnauthorized || k == KindUnreachable || k == KindCertificate
}

// StopsEverything reports whether err is an *Error whose Kind stops
// everything.
func StopsEverything(err error) bool { return KindOf(err).StopsEverything() }

// KindOf returns the Kind of err, or 0 when err is not an *Error.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return 0
}
