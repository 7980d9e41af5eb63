package fetch

import (
	"fmt"
	"net/url"
	"strings"
)

// USGovHost is Webex for Government's (FedRAMP) API host.
const USGovHost = "api-usgov.webex.com"

// CheckDetailsSupported refuses an API base URL on which Get Webex Calling
// Device Details does not exist: Webex for Government documents it as "not
// supported". Every request such a job sent would fail, so the job stops
// before the first one, with a message that says why.
func CheckDetailsSupported(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // ValidateBaseURL reports it
	}
	if strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), USGovHost) {
		return fmt.Errorf("%s is Webex for Government, which does not support Get Webex Calling Device Details (the endpoint this job is built on); this job cannot sync devices there", u.Hostname())
	}
	return nil
}
