package fetch

import (
	"context"
	"errors"
	"testing"
	"time"
)

// sleepOnTime never ends early, spun tail or not, and a cancelled context
// ends it with its cause, in the sleep or in the spin.
func TestSleepOnTime(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 300 * time.Microsecond, spinTail, 5 * time.Millisecond} {
		start := time.Now()
		if err := sleepOnTime(context.Background(), d); err != nil {
			t.Fatalf("sleepOnTime(%v): %v", d, err)
		}
		if took := time.Since(start); took < d {
			t.Errorf("sleepOnTime(%v) ended after %v, early", d, took)
		}
	}
	stop := errors.New("stopped")
	for _, d := range []time.Duration{spinTail / 2, time.Hour} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(stop)
		if err := sleepOnTime(ctx, d); !errors.Is(err, stop) {
			t.Errorf("sleepOnTime(%v) with a cancelled context: %v, want its cause %q", d, err, stop)
		}
	}
}
