package fetch

import (
	"errors"
	"strings"
)

// redacted replaces a token in error texts.
const redacted = "[REDACTED]"

// scrubPrefix is how much of a token's start marks a cut-off copy of it
// (a message truncated in the middle of an echoed token).
const scrubPrefix = 12

// scrub removes every copy of the tokens from s: whole, in its "Bearer"
// form (which contains it), or cut off at the end of a truncated message.
// A server may echo the Authorization header into an error body, and what
// the client reports is logged and stored.
func scrub(s string, tokens ...string) string {
	for _, tok := range tokens {
		if tok == "" {
			continue
		}
		s = strings.ReplaceAll(s, tok, redacted)
		// A copy cut short: its first scrubPrefix bytes or more.
		head := tok[:min(len(tok), scrubPrefix)]
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, head)
			if i < 0 {
				break
			}
			b.WriteString(rest[:i])
			n := len(head)
			for n < len(tok) && i+n < len(rest) && rest[i+n] == tok[n] {
				n++
			}
			b.WriteString(redacted)
			rest = rest[i+n:]
		}
		if b.Len() > 0 {
			b.WriteString(rest)
			s = b.String()
		}
	}
	return s
}

// scrubError removes the tokens from everything e reports.
func scrubError(e *Error, tokens ...string) {
	e.Message = scrub(e.Message, tokens...)
	e.TrackingID = scrub(e.TrackingID, tokens...)
	e.ErrorCode = scrub(e.ErrorCode, tokens...)
	e.ErrorCode = scrub(e.ErrorCode, tokens...)
	if e.Err != nil {
		if msg := e.Err.Error(); scrub(msg, tokens...) != msg {
			e.Err = errors.New(scrub(msg, tokens...))
		}
	}
}
