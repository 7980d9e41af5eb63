package store

import (
	"context"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// withRetry runs fn again on a fresh connection (the pool replaces dead
// ones) when it failed because its connection did (pgretry.ConnectionLost).
// Only idempotent work goes through it.
func withRetry(ctx context.Context, fn func() error) error {
	return pgretry.Do(ctx, pgretry.Statement, func(context.Context) error { return fn() })
}
