package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
)

// lockClass is the first key of every advisory lock the job takes ("wxsy"),
// so that its locks cannot collide with another application's. Two-key
// advisory locks do not share a key space with goose's one-key lock.
const lockClass = 0x77787379

// DefaultLease is how long a run's lock outlives the last renewal: how long
// a run that was killed, or cut off from its database, keeps its scope from
// the next run. The lock is renewed every third of it.
const DefaultLease = 30 * time.Second

// ErrLocked means another run holds the lock of the scope, or of a scope
// that shares devices with it.
var ErrLocked = errors.New("another run holds the lock")

// ErrTakenOver means that another run took this run's scope over: this
// run's lease expired (it was cut off from its database for longer than the
// lease) and a new run took the lock. Nothing of this run commits from then
// on.
var ErrTakenOver = errors.New("another run took over this run's scope")

// RunLock is a run's hold on its scope: a lease, a row of run_leases with
// an expiry that the run renews (Keep) and a fencing token, which every
// transaction of the run checks first (Store.Fenced). It lives in a table,
// not in a session, so that a run survives a lost connection, a restart of
// the server or a transaction pooler: it reconnects and goes on as long as
// no other run took the scope over, which another run may do only once the
// lease has expired, and which ends this run's writes at once. A run that
// dies keeps its scope until the lease expires; one that ends releases it.
//
// Which runs exclude which: a whole-fleet run excludes every other run,
// and a shard run i/c excludes a shard i'/c' that can hold one of its
// devices: device hash h is in both when h ≡ i (mod c) and h ≡ i' (mod c'),
// which some h satisfies exactly when i ≡ i' (mod gcd(c, c')). So 0/2 and
// 1/2 run side by side, as do 0/4 and 1/2, while 0/4 and 0/2, or 0/3 and
// 1/2, exclude each other, whatever counts two deployments use during a
// rollout.
type RunLock struct {
	st    *Store // on the pool, for the renewals and the release
	scope Scope
	token int64
	lease time.Duration

	lost chan struct{} // closed when another run has taken over
	once sync.Once
	err  error // why, once lost is closed
}

// LockRun takes the run lock of scope, waiting up to wait for it (0: do not
// wait; the first try always happens). It returns ErrLocked when another
// run holds it, or a scope that shares devices with it.
func (s *Store) LockRun(ctx context.Context, scope Scope, wait time.Duration) (*RunLock, error) {
	holder, err := randomName()
	if err != nil {
		return nil, err
	}
	l, err := s.takeLease(ctx, scope, holder)
	for deadline := time.Now().Add(wait); errors.Is(err, ErrLocked) && time.Until(deadline) > 0; {
		t := time.NewTimer(min(250*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("take the run lock: %w", context.Cause(ctx))
		case <-t.C:
			l, err = s.takeLease(ctx, scope, holder)
		}
	}
	return l, err
}

// takeLease takes scope's lease in one transaction, or nothing: it
// refuses while a lease of a scope that shares devices is live, and takes
// over those that expired.
func (s *Store) takeLease(ctx context.Context, scope Scope, holder string) (*RunLock, error) {
	var l *RunLock
	err := s.withRetry(ctx, func(ctx context.Context) error {
		l = nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			q := dbsqlc.New(tx)
			if err := q.LockLeaseGate(ctx, lockClass); err != nil {
				return err
			}
			idx, cnt := int32(scope.Index), int32(scope.Count)
			old, err := q.EarlierVersionHolds(ctx, dbsqlc.EarlierVersionHoldsParams{Class: lockClass, ShardIndex: idx, ShardCount: cnt})
			if err != nil {
				return err
			}
			if old {
				return fmt.Errorf("%w for scope %s: a run of an earlier version of this job holds it", ErrLocked, scope)
			}
			leases, err := q.OverlappingLeases(ctx, idx, cnt)
			if isLockNotAvailable(err) {
				return fmt.Errorf("%w for scope %s: its holder is writing", ErrLocked, scope)
			}
			if err != nil {
				return err
			}
			var expired []int64
			for _, o := range leases {
				switch {
				case o.Holder == holder:
					// This take, sent again after its answer was lost.
					l = s.newRunLock(scope, o.Token)
					return nil
				case o.Live:
					return fmt.Errorf("%w for scope %s: %s", ErrLocked, scope, describeHolder(o.Scope, o.RunID, o.TakenAt))
				}
				expired = append(expired, o.Token)
			}
			if len(expired) > 0 {
				if err := q.DropLeases(ctx, expired); err != nil {
					return err
				}
			}
			row, err := q.TakeLease(ctx, dbsqlc.TakeLeaseParams{Scope: scope.String(), ShardIndex: idx, ShardCount: cnt,
				Holder: holder, LeaseSeconds: s.lease.Seconds()})
			if err != nil {
				return err
			}
			l = s.newRunLock(scope, row.Token)
			return nil
		})
	})
	switch {
	case errors.Is(err, ErrLocked):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("take the run lock: %w", err)
	}
	return l, nil
}

func (s *Store) newRunLock(scope Scope, token int64) *RunLock {
	return &RunLock{st: s, scope: scope, token: token, lease: s.lease, lost: make(chan struct{})}
}

// isLockNotAvailable reports PostgreSQL's answer to a NOWAIT lock that
// another transaction holds.
func isLockNotAvailable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

func describeHolder(scope string, runID *int64, since time.Time) string {
	who := "a run that has not recorded itself yet"
	if runID != nil {
		who = fmt.Sprintf("run %d", *runID)
	}
	return fmt.Sprintf("%s holds scope %s since %s", who, scope, since.UTC().Format(time.RFC3339))
}

// randomName names one taker of a lease.
func randomName() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("take the run lock: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Keep renews the lease every third of its length until ctx ends (nil) or
// another run has taken the scope over (ErrTakenOver). A renewal that fails
// is tried again, however long the database is away: while no other run
// takes the scope over, the lease is this run's, expired or not. log hears
// of each renewal that failed.
func (l *RunLock) Keep(ctx context.Context, log *slog.Logger) error {
	t := time.NewTicker(l.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.lost:
			return l.err
		case <-t.C:
		}
		var failed time.Time // the first failure of this renewal
		err := pgretry.Do(ctx, pgretry.Policy{Tries: 1 << 30, Wait: 250 * time.Millisecond, MaxWait: 2 * time.Second, Attempt: l.lease / 3},
			func(ctx context.Context) error {
				_, err := l.st.q.RenewLease(ctx, l.lease.Seconds(), l.token)
				switch {
				case errors.Is(err, pgx.ErrNoRows):
					return l.takenOver(ctx)
				case err != nil && ctx.Err() == nil:
					level := slog.LevelDebug
					if failed.IsZero() {
						failed, level = time.Now(), slog.LevelWarn // once an outage; the rest at debug
					}
					log.LogAttrs(ctx, level, "could not renew the run lock; trying again until the database answers",
						slog.String("scope", l.scope.String()), slog.String("error", oneLine(err)))
				case err == nil && !failed.IsZero():
					log.LogAttrs(ctx, slog.LevelInfo, "renewed the run lock again",
						slog.String("scope", l.scope.String()), slog.Float64("after_seconds", time.Since(failed).Seconds()))
				}
				return err
			})
		if errors.Is(err, ErrTakenOver) {
			return err
		}
	}
}

// Lost is closed once another run has taken the scope over.
func (l *RunLock) Lost() <-chan struct{} { return l.lost }

// fence is the first statement of every transaction of the run: it holds
// the lease's row until the transaction ends, or finds that another run
// has taken the scope over.
func (l *RunLock) fence(ctx context.Context, tx pgx.Tx) error {
	_, err := dbsqlc.New(tx).CheckLease(ctx, l.token)
	if errors.Is(err, pgx.ErrNoRows) {
		return l.takenOver(ctx)
	}
	return err
}

// takenOver records, once, that another run has taken the scope over, and
// who holds it now (best effort: the answer is for the message).
func (l *RunLock) takenOver(ctx context.Context) error {
	l.once.Do(func() {
		l.err = fmt.Errorf("%w: the lease of scope %s expired while this run could not renew it, and another run took the scope; this run commits nothing more", ErrTakenOver, l.scope)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if now, err := l.st.q.LeasesOverlapping(ctx, int32(l.scope.Index), int32(l.scope.Count)); err == nil && len(now) > 0 {
			o := now[len(now)-1]
			l.err = fmt.Errorf("%w: the lease of scope %s expired while this run could not renew it, and %s; this run commits nothing more",
				ErrTakenOver, l.scope, describeHolder(o.Scope, o.RunID, o.TakenAt))
		}
		close(l.lost)
	})
	return l.err
}

// Release lets go of the lock, if it is still this run's: the next run
// need not wait for the lease to expire. A release that fails leaves the
// lease to expire.
func (l *RunLock) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_ = l.st.withRetry(ctx, func(ctx context.Context) error { return l.st.q.ReleaseLease(ctx, l.token) })
}
