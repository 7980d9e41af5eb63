package fetch

import (
	"fmt"
	"math"
	"time"
)

// throttleMessage says in words what a 429 made the client do: how long
// every request waits, and the rate it sends at afterwards.
func throttleMessage(pause time.Duration, ratePerSecond float64) string {
	after := "with no rate limit"
	if !math.IsInf(ratePerSecond, 1) && ratePerSecond < math.MaxFloat64 {
		after = fmt.Sprintf("at %.2f requests/s", ratePerSecond)
	}
	return fmt.Sprintf("Webex is throttling: pausing all requests for %s, then sending %s", pause.Round(10*time.Millisecond), after)
}
