package cli

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"

	"golang.org/x/term"
)

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the run's logger: text on a terminal, JSON otherwise
// (cron mail, Kubernetes log collectors), unless the format is forced.
func newLogger(o logOptions, w io.Writer) *slog.Logger {
	level, _ := parseLevel(o.Level) // validated earlier
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationInSeconds}
	format := o.Format
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a terminal (a tty that answers the
// terminal ioctl; /dev/null, also a character device, is not one): enough
// to choose a log format and whether to draw a bar.
func isTerminal(w io.Writer) bool {
	if t, ok := w.(interface{ isTerminal() bool }); ok {
		return t.isTerminal()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// durationInSeconds is the log's one rule for durations: a number of
// seconds, to the millisecond, under a key that ends in _seconds
// (slog.Duration("for_up_to", 20*time.Second) is for_up_to_seconds=20), so
// that a log indexer sees one type per key and no nanoseconds. It holds for
// every line, the libraries' too.
func durationInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	return slog.Float64(a.Key+"_seconds", math.Round(a.Value.Duration().Seconds()*1000)/1000)
}
