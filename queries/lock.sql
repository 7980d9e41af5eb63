-- The run lock: a lease per scope in run_leases (see internal/store/lock.go).
-- Each statement runs in a transaction of its own and leaves nothing in
-- the session, so that the lock survives a lost connection or a restart,
-- and works through a transaction pooler.

-- name: LockLeaseGate :exec
-- Runs that take a lease go one at a time, for the length of their
-- transaction (a transaction-level advisory lock: nothing stays in the
-- session), so that two cannot both find their scopes free. The key is the
-- job's class ("wxsy") and a number no scope uses.
SELECT pg_advisory_xact_lock(@class::int, 2147483647);

-- name: OverlappingLeases :many
-- The leases of the scopes that share a device with shard
-- @shard_index/@shard_count (0/0: the whole fleet), locked for the take-over.
-- Shards i/c and i'/c' share a device when i ≡ i' (mod gcd(c, c')); the
-- whole fleet shares with every scope. NOWAIT: a holder's transaction in
-- flight holds its row FOR KEY SHARE (CheckLease), which shows the holder
-- alive, and the taker gives up at once instead of waiting behind it.
WITH me AS (SELECT @shard_index::int AS idx, @shard_count::int AS cnt)
SELECT l.scope, l.token, l.holder, l.run_id, l.taken_at, l.expires_at, (l.expires_at > now())::boolean AS live
FROM run_leases l, me
WHERE me.cnt = 0 OR l.shard_count = 0 OR mod(me.idx - l.shard_index, gcd(me.cnt, l.shard_count)) = 0
ORDER BY l.scope
FOR UPDATE OF l NOWAIT;

-- name: LeasesOverlapping :many
-- As OverlappingLeases, without a lock: who holds what, for a message.
WITH me AS (SELECT @shard_index::int AS idx, @shard_count::int AS cnt)
SELECT l.scope, l.token, l.run_id, l.taken_at
FROM run_leases l, me
WHERE me.cnt = 0 OR l.shard_count = 0 OR mod(me.idx - l.shard_index, gcd(me.cnt, l.shard_count)) = 0
ORDER BY l.taken_at;

-- name: EarlierVersionHolds :one
-- Whether a run of a version from before leases holds a scope that shares
-- a device with this one: those runs hold session advisory locks of the
-- job's class, the fleet's key 0 exclusively, a shard's key
-- count*1024 + index + 1 (with key 0 shared). A new run does not start
-- beside one during a rollout; the old one does not see leases.
WITH me AS (SELECT @class::int AS class, @shard_index::int AS idx, @shard_count::int AS cnt),
held AS (
    SELECT CASE WHEN l.objid::bigint = 0 THEN 0 ELSE (l.objid::bigint - 1) / 1024 END AS cnt,
           CASE WHEN l.objid::bigint = 0 THEN 0 ELSE mod(l.objid::bigint - 1, 1024) END AS idx
    FROM pg_catalog.pg_locks l, me
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND l.classid::bigint = me.class
      AND (l.objid::bigint = 0 AND l.mode = 'ExclusiveLock'
           OR l.objid::bigint >= 1025 AND l.objid::bigint < 2147483647)
)
SELECT EXISTS (
    SELECT FROM held h, me
    WHERE me.cnt = 0 OR h.cnt = 0 OR mod(me.idx - h.idx, gcd(me.cnt::bigint, h.cnt)) = 0
)::boolean AS held;

-- name: DropLeases :exec
-- The take-over: the expired leases of runs that stopped renewing them
-- (locked by OverlappingLeases in the same transaction).
DELETE FROM run_leases WHERE token = ANY (@tokens::bigint[]);

-- name: TakeLease :one
-- holder is the taker's own random name: a take sent again after its
-- answer was lost finds its own lease by it.
INSERT INTO run_leases (scope, shard_index, shard_count, holder, expires_at)
VALUES (@scope::text, @shard_index::int, @shard_count::int, @holder::text,
        now() + make_interval(secs => @lease_seconds::float8))
RETURNING token, taken_at, expires_at;

-- name: RenewLease :one
-- Extends the lease; no row: another run took the scope over.
UPDATE run_leases
SET expires_at = now() + make_interval(secs => @lease_seconds::float8),
    renewed_at = now()
WHERE token = @token::bigint
RETURNING expires_at;

-- name: CheckLease :one
-- The fence: the first statement of every transaction of a run. It holds
-- the lease's row FOR KEY SHARE until the transaction ends, so that a
-- take-over, which deletes the row, cannot commit before this transaction
-- has; no row means that another run took the scope over, and the
-- transaction must commit nothing. It does not block renewals (a
-- non-key UPDATE).
SELECT run_id FROM run_leases WHERE token = @token::bigint FOR KEY SHARE;

-- name: RecordLeaseRun :exec
-- The holder's sync_runs row, written with it: a StartRun sent again after
-- its answer was lost finds the run it recorded.
UPDATE run_leases SET run_id = @run_id::bigint WHERE token = @token::bigint;

-- name: ReleaseLease :exec
DELETE FROM run_leases WHERE token = @token::bigint;

-- name: LeaseRun :one
-- The run the lease's holder recorded (RecordLeaseRun), if it did.
SELECT r.run_id, r.started_at
FROM run_leases l
JOIN sync_runs r ON r.run_id = l.run_id
WHERE l.token = @token::bigint;
