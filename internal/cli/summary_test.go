package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

func TestPlainSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sum       syncrun.Summary
		newFailed int
		want      []string
		not       []string
	}{
		{"all synced", syncrun.Summary{RunID: 4, Status: store.RunSucceeded, Total: 10, Duration: 1500 * time.Millisecond,
			Counts: store.FinalCounts{OK: 10, Changed: 2, Changes: 3}, Requests: 10},
			-1, []string{"Run 4 finished in 1.5s: all 10 devices synced.", "Changed:   2 devices (3 changes recorded): wxc-sync report changes_by_run --param run_id=4",
				"Requests:  10 sent to Webex, 0 throttled"}, []string{"Failed", "Skipped"}},
		{"some failed, tolerated", syncrun.Summary{RunID: 5, Status: store.RunPartial, Total: 10,
			Counts: store.FinalCounts{OK: 8, Failed: 2}}, 0,
			[]string{"with 2 devices of 10 not synced", "Failed:    2 devices", "report failing_devices", "tolerated (--tolerate-forbidden)", "Changed:   nothing"}, nil},
		{"some failed, one new", syncrun.Summary{RunID: 5, Status: store.RunPartial, Total: 10,
			Counts: store.FinalCounts{OK: 8, Failed: 2}}, 1,
			[]string{"1 of them new since the last run"}, []string{"tolerated ("}},
		{"budget", syncrun.Summary{RunID: 6, Status: store.RunPartial, Total: 10, BudgetReached: true,
			Counts: store.FinalCounts{OK: 4, Skipped: 6}}, -1,
			[]string{"Skipped:   6 devices not reached in the time budget; the next run takes them again, after any device that may have changed"}, nil},
		{"nothing tracked", syncrun.Summary{RunID: 7, Status: store.RunSucceeded}, -1,
			[]string{"finished in 0s with nothing to sync", "no devices are tracked", "wxc-sync discover", "wxc-sync devices add"}, []string{"Synced", "all 0"}},
		{"failed before it could look", syncrun.Summary{RunID: 9, Status: store.RunFailed,
			Err: errors.New("Webex rejected the token (listing): 401")}, -1,
			[]string{"Run 9 failed after", "Why: Webex rejected the token"}, []string{"no devices are tracked", "discover"}},
		// Webex's message is quoted in the error: on a terminal it must not
		// retitle the window, clear the screen or hide text.
		{"failed, the server's message hostile", syncrun.Summary{RunID: 10, Status: store.RunFailed,
			Err: errors.New("Webex rejected the token (device listing): unauthorized (HTTP 401 Unauthorized): \x1b]0;pwned\a\x1b[2J\u202egone\nline")}, -1,
			[]string{`Why: Webex rejected the token (device listing): unauthorized (HTTP 401 Unauthorized): \x1b]0;pwned\a\x1b[2J\u202egone`, `line`},
			[]string{"\x1b", "\a", "\u202e"}},
		{"interrupted", syncrun.Summary{RunID: 8, Status: store.RunInterrupted, Total: 3, Counts: store.FinalCounts{OK: 1, Skipped: 2}}, -1,
			[]string{"Run 8 was interrupted after", "Skipped:   2 devices not reached"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writePlainSummary(&b, tc.sum, tc.newFailed)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("says %q:\n%s", n, b.String())
				}
			}
		})
	}
}
