package store

import (
	"context"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// withRetry runs fn again on a fresh connection (the pool replaces dead
// ones) when it failed because its connection did (pgretry.ConnectionLost).
// Only idempotent work goes through it. A fenced Store does not retry: its
// one connection is the lock's.
func (s *Store) withRetry(ctx context.Context, fn func() error) error {
	return pgretry.Do(ctx, s.retry, func(context.Context) error { return fn() })
}
