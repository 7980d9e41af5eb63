package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wxc-inventory/wxc-sync/internal/syncrun"
)

// newProgress reports a run's progress: a bar redrawn in place on a
// terminal, a log line every few seconds otherwise (cron mail and pod logs
// should not fill with bars).
func newProgress(w io.Writer, log *slog.Logger) func(syncrun.Progress) {
	const logEvery = 5 * time.Second
	var (
		mu   sync.Mutex
		last time.Time
	)
	tty := isTerminal(w)
	return func(p syncrun.Progress) {
		mu.Lock()
		defer mu.Unlock()
		rate := 0.0
		if s := p.Elapsed.Seconds(); s > 0 {
			rate = float64(p.Done) / s
		}
		var eta time.Duration
		if rate > 0 && p.Total > p.Done {
			eta = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second)).Round(time.Second)
		}
		if tty {
			const width = 30
			frac := 1.0
			if p.Total > 0 {
				frac = min(float64(p.Done)/float64(p.Total), 1)
			}
			n := int(frac * width)
			fmt.Fprintf(w, "\r[%s%s] %d/%d  %.0f/s  429s %d  ETA %s ", strings.Repeat("#", n), strings.Repeat(".", width-n),
				p.Done, p.Total, rate, p.Throttled, eta)
			if p.Done >= p.Total {
				fmt.Fprintln(w)
			}
			return
		}
		if time.Since(last) < logEvery && p.Done < p.Total {
			return
		}
		last = time.Now()
		log.Info("progress", slog.Int64("run_id", p.RunID), slog.Int("done", p.Done), slog.Int("total", p.Total),
			slog.Float64("per_second", float64(int(rate*10))/10), slog.Int64("throttled", p.Throttled),
			slog.String("eta", eta.String()))
	}
}
