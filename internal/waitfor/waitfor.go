// Package waitfor is the tests' one way to wait for something another
// goroutine, process or server does: poll a condition until it holds, and
// fail the test if it never does. The bound only keeps a broken test from
// hanging; it asserts nothing about speed.
package waitfor

import (
	"testing"
	"time"
)

// Bound is how long Cond waits before it fails the test.
const Bound = 30 * time.Second

// Cond polls cond, first every few milliseconds and then every 100 ms,
// until it returns true; after Bound it fails the test, naming what it
// waited for.
func Cond(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Bound)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", Bound, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}
