package webexsim

// The scopes the simulated endpoints require, as Webex names them.
const (
	ScopeTelephonyConfigRead = "spark-admin:telephony_config_read" // Get Device Details
	ScopeDevicesRead         = "spark-admin:devices_read"          // List Devices
)

// msgMissingScope is what Webex answers, with 403, to a valid token that
// lacks the endpoint's scope.
const msgMissingScope = "The request is understood, but it has been refused or access is not allowed."

// hasScope reports whether token carries scope: a token that Config.Scopes
// does not name carries every scope.
func (s *Sim) hasScope(token, scope string) bool {
	scopes, limited := s.cfg.Scopes[token]
	if !limited {
		return true
	}
	for _, sc := range scopes {
		if sc == scope {
			return true
		}
	}
	return false
}
