package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"
)

// The API as a whole can fail in two ways that no device is to blame for,
// and that no retry of one device cures: it does not answer at all, or it
// answers with a certificate this host does not trust. Both end the run.

// unreachableWindow: three requests in a row without an answer over this
// long also make the API unreachable, so that one request at a time (the
// device listing) with long timeouts does not take UnreachableAfter of
// them to find out.
const unreachableWindow = time.Minute

// noAnswerSeen records a request that got no HTTP answer. When it makes
// UnreachableAfter in a row, or three in a row over unreachableWindow, the
// client is unreachable from then on, and the error saying so is returned.
func (c *Client) noAnswerSeen(ferr *Error) *Error {
	now := time.Now().UnixNano()
	n := c.noAnswer.Add(1)
	c.noAnswerAt.CompareAndSwap(0, now)
	since := time.Duration(now - c.noAnswerAt.Load())
	if n < int64(c.opts.UnreachableAfter) && (n < 3 || since < unreachableWindow) {
		return nil
	}
	cause := ferr.Message
	c.unreachable.CompareAndSwap(nil, &cause)
	return c.unreachableErr()
}

// unreachableErr is the error of every request once the API was found
// unreachable, or nil.
func (c *Client) unreachableErr() *Error {
	cause := c.unreachable.Load()
	if cause == nil {
		return nil
	}
	return &Error{Kind: KindUnreachable, Message: *cause}
}

// certificateProblem returns the certificate error in err, if the request
// failed because the server's certificate could not be verified.
func certificateProblem(err error) error {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &verify):
		return verify.Err
	case errors.As(err, &authority):
		return authority
	case errors.As(err, &host):
		return host
	case errors.As(err, &invalid):
		return invalid
	}
	return nil
}
