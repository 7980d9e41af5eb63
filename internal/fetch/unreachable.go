package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// The API as a whole can fail in two ways that no device is to blame for,
// and that no retry of one device cures: it does not answer at all, or it
// answers with a certificate this host does not trust. Both end the run.

// noAnswerSeen records a request that got no HTTP answer. When it makes
// UnreachableAfter in a row, the client is unreachable from then on, and the
// error saying so is returned.
func (c *Client) noAnswerSeen(ferr *Error) *Error {
	if c.noAnswer.Add(1) < int64(c.opts.UnreachableAfter) {
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
