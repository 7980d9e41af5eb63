package store

import (
	"context"
	"log/slog"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// withRetry runs fn again, on a fresh connection if need be (the pool
// replaces dead ones), when its failure was transient (pgretry.Transient:
// a lost connection, a serialization failure, a deadlock), as the store's
// policy says: a few seconds of attempts, or for a run's Fenced store as
// long as ReconnectWithin. Only idempotent work goes through it. Each
// attempt gets its own context, bounded as the policy says.
func (s *Store) withRetry(ctx context.Context, fn func(ctx context.Context) error) error {
	attempt := 0
	return pgretry.Do(ctx, s.retry, func(ctx context.Context) error {
		attempt++
		err := fn(ctx)
		if err != nil && pgretry.Transient(err) && ctx.Err() == nil {
			level := slog.LevelWarn
			if attempt > 1 {
				level = slog.LevelDebug // once a statement; the rest at debug
			}
			s.log.LogAttrs(ctx, level, "database statement failed; trying again on another connection",
				slog.Int("attempt", attempt), slog.String("error", oneLine(err)))
		}
		return err
	})
}
