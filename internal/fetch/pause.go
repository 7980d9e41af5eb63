package fetch

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// pauseGate holds every request of a client until a Retry-After has passed.
type pauseGate struct {
	mu    sync.Mutex
	until time.Time
	// streak counts the pauses in a row without a usable Retry-After after
	// which the first request was refused: they were too short.
	streak int
	// total is the length of every pause so far, overlaps counted once
	// (a pause extended from its old end counts from there).
	total time.Duration
}

// extend moves the end of the pause to now+d if that is later. It reports
// whether it did (so that a burst of 429s logs once), and the pause's end.
func (p *pauseGate) extend(d time.Duration) (bool, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	end := now.Add(d)
	if end.After(p.until) {
		p.total += end.Sub(later(now, p.until))
		p.until = end
		return true, end
	}
	return false, p.until
}

// paused is how long the client has been held by pauses until now: the
// part of the current pause still to come is not counted yet, so that a
// run that ends during a long Retry-After does not count time it never
// waited.
func (p *pauseGate) paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total - max(0, time.Until(p.until))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// active reports whether a pause is in force.
func (p *pauseGate) active() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.until)
}

// fallback returns the next pause of a 429 without a usable Retry-After:
// base, doubled for every pause in a row that was too short (tooSoon: the
// first request after it was refused), at most 32×base; a pause after an
// accepted request starts again at base. It is called once a pause, never
// for the 429s of requests already in flight.
func (p *pauseGate) fallback(base time.Duration, tooSoon bool) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tooSoon {
		p.streak++
	} else {
		p.streak = 0
	}
	return base << min(p.streak, 5)
}

// wait blocks until no pause is in force. A pause that would outlast the
// context's deadline returns context.DeadlineExceeded at once rather than
// sleeping to the deadline: the time is better spent storing what is done.
func (p *pauseGate) wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		until := p.until
		p.mu.Unlock()
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && until.After(dl) {
			return context.DeadlineExceeded
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
