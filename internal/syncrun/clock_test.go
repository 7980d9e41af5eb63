package syncrun_test

import (
	"sync"
	"time"
)

// fakeClock is a syncrun.Clock that moves only when a test says: a budget
// measured by it ends exactly when the test advances it, whatever the
// machine's load.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]bool
}

type fakeTimer struct {
	at time.Time
	f  func()
}

// newFakeClock starts at the real time, so that a deadline it reports to
// the Webex client (which waits by the real clock) lies as far ahead as the
// budget says.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now(), timers: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	c.timers[t] = true
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		pending := c.timers[t]
		delete(c.timers, t)
		return pending
	}
}

// Advance moves the clock on by d and calls, each in a goroutine of its
// own, what is due by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			delete(c.timers, t)
			go t.f()
		}
	}
}
