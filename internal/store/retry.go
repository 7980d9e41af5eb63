package store

import (
	"context"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// withRetry runs fn again, on a fresh connection if need be (the pool
// replaces dead ones), when its failure was transient (pgretry.Transient:
// a lost connection, a serialization failure, a deadlock).
// Only idempotent work goes through it. A fenced Store does not retry: its
// one connection is the lock's.
func (s *Store) withRetry(ctx context.Context, fn func() error) error {
	return pgretry.Do(ctx, s.retry, func(context.Context) error { return fn() })
}
