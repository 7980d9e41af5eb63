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
// terminal (w a *console, which keeps log lines off the bar's row), a log
// line every few seconds otherwise (cron mail and pod logs should not fill
// with bars).
func newProgress(w io.Writer, log *slog.Logger) func(syncrun.Progress) {
	const logEvery = 5 * time.Second
	var (
		mu   sync.Mutex
		last time.Time
	)
	con, tty := w.(*console)
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
			if p.Done >= p.Total {
				con.clearBar() // the run's summary follows
				return
			}
			con.drawBar(barText(p, rate, eta))
			return
		}
		if time.Since(last) < logEvery && p.Done < p.Total {
			return
		}
		last = time.Now()
		log.Info("progress", slog.Int64("run_id", p.RunID), slog.Int("done", p.Done), slog.Int("total", p.Total),
			slog.Float64("per_second", float64(int(rate*10))/10), slog.Int64("throttled", p.Throttled),
			slog.Float64("eta_seconds", eta.Seconds()))
	}
}

// barText is the progress bar: every figure says what it counts ("429s 0"
// read as seconds).
func barText(p syncrun.Progress, rate float64, eta time.Duration) string {
	const width = 16
	frac := 1.0
	if p.Total > 0 {
		frac = min(float64(p.Done)/float64(p.Total), 1)
	}
	n := int(frac * width)
	left := "ETA unknown"
	if eta > 0 {
		left = "ETA " + eta.String()
	}
	throttled := fmt.Sprintf("%d throttled requests", p.Throttled)
	if p.Throttled == 1 {
		throttled = "1 throttled request"
	}
	return fmt.Sprintf("[%s%s] %d/%d devices  %.0f/s  %s  %s",
		strings.Repeat("#", n), strings.Repeat(".", width-n), p.Done, p.Total, rate, throttled, left)
}
