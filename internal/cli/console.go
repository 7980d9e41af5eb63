package cli

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// console is standard error on a terminal, shared by the log lines and the
// progress bar so that they never share a row: a log line clears the bar,
// is written, and the bar is drawn again below it.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	fd  int    // for the terminal's width; -1 if unknown
	bar string // the bar on screen, "" when none
}

// eraseLine moves to the start of the row and clears it (CR, then CSI K).
const eraseLine = "\r\x1b[K"

func newConsole(w io.Writer) *console {
	c := &console{w: w, fd: -1}
	if f, ok := w.(*os.File); ok {
		c.fd = int(f.Fd())
	}
	return c
}

// isTerminal tells isTerminal that what is written here reaches one.
func (c *console) isTerminal() bool { return true }

// Write writes p (whole log lines, as slog's handlers do) above the bar.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		io.WriteString(c.w, eraseLine)
	}
	n, err := c.w.Write(p)
	if c.bar != "" {
		io.WriteString(c.w, c.bar)
	}
	return n, err
}

// drawBar replaces the bar with s, cut to the terminal's width: a bar that
// wraps could not be erased by one eraseLine.
func (c *console) drawBar(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd >= 0 {
		if w, _, err := term.GetSize(c.fd); err == nil && w > 1 && len(s) > w-1 {
			s = s[:w-1]
		}
	}
	io.WriteString(c.w, eraseLine+s)
	c.bar = s
}

// clearBar removes the bar; later writes go where it was.
func (c *console) clearBar() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		io.WriteString(c.w, eraseLine)
		c.bar = ""
	}
}
