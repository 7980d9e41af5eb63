package syncrun

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A run's time budget (--max-duration) counts from the start of the
// process: connecting, waiting for the lock and migrating spend it too.
// This file is its one home: the command line bounds its set-up with
// BeforeStart, and the run bounds its own start and its fetching the same
// way.

// ErrBudgetBeforeStart is returned (wrapped) when the time budget ran out
// before the run could start: nothing was fetched or recorded.
var ErrBudgetBeforeStart = errors.New("the time budget ran out before the run could start")

// errBudget ends the fetching of a started run whose budget ran out.
var errBudget = errors.New("time budget reached")

// Clock is what a run's time budget is measured by: the real clock, unless
// a test gives its own so that the budget ends exactly when it says.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f, in a goroutine of its own, once d has passed;
	// stop cancels the call if it has not happened yet.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// BeforeStart bounds ctx by the time budget of a run whose process
// started at started (maxDuration 0: no budget). When the budget runs out,
// ctx ends with the cause ErrBudgetBeforeStart; BudgetErr then says so of
// the error it caused.
func BeforeStart(ctx context.Context, started time.Time, maxDuration time.Duration) (context.Context, context.CancelFunc) {
	return withBudget(ctx, realClock{}, started, maxDuration, ErrBudgetBeforeStart)
}

// BudgetErr marks err as the budget's doing when the budget ended ctx (one
// made by BeforeStart) before the run started.
func BudgetErr(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrBudgetBeforeStart) || !errors.Is(context.Cause(ctx), ErrBudgetBeforeStart) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBudgetBeforeStart, err)
}

// withBudget is ctx ended by clock at started+length, with cause. It
// reports that time as its deadline, so that a wait that would outlast the
// budget (a Retry-After, the rate limiter's) is not begun.
func withBudget(ctx context.Context, clock Clock, started time.Time, length time.Duration, cause error) (context.Context, context.CancelFunc) {
	if length <= 0 {
		return context.WithCancel(ctx)
	}
	deadline := started.Add(length)
	bctx, cancel := context.WithCancelCause(ctx)
	stop := clock.AfterFunc(deadline.Sub(clock.Now()), func() { cancel(cause) })
	return &budgetCtx{Context: bctx, deadline: deadline}, func() {
		stop()
		cancel(nil)
	}
}

type budgetCtx struct {
	context.Context
	deadline time.Time
}

func (c *budgetCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}
