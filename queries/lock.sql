-- The run lock: session-level advisory locks on one pinned connection (see
-- internal/store/lock.go). Every key is two ints, the first the job's class
-- ("wxsy"), so that they cannot collide with another application's locks
-- or with goose's one-key migration lock.

-- name: TryLockFleet :one
-- A whole-fleet run: the fleet key, exclusively.
SELECT pg_try_advisory_lock(@class::int, 0) AS locked;

-- name: TryLockShard :one
-- A shard run i/c: refused while another session holds the key of a shard
-- i'/c' that can hold one of its devices (i ≡ i' mod gcd(c, c'): see
-- RunLock), whatever count that run uses; else the fleet key shared (so
-- shards run side by side and a whole-fleet run excludes them), and its
-- shard's key exclusively. On a partial success it lets go of the shared
-- key it took. Shard keys are count*1024 + index + 1. Run under
-- LockShardGate.
WITH me AS (
    SELECT @class::int AS class, @shard_key::int AS shard_key,
           @shard_index::bigint AS idx, @shard_count::bigint AS cnt
),
held AS (
    -- Shard keys held by other sessions, decoded. Advisory locks belong to
    -- a database, as the runs do.
    SELECT (l.objid::bigint - 1) / 1024 AS cnt, mod(l.objid::bigint - 1, 1024) AS idx
    FROM pg_catalog.pg_locks l, me
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND l.classid::bigint = me.class
      AND l.objid::bigint >= 1025 AND l.objid::bigint < 2147483647
)
SELECT CASE
         WHEN EXISTS (SELECT FROM held h, me WHERE mod(me.idx - h.idx, gcd(me.cnt, h.cnt)) = 0) THEN false
         WHEN pg_try_advisory_lock_shared(me.class, 0) THEN
           CASE WHEN pg_try_advisory_lock(me.class, me.shard_key) THEN true
                ELSE NOT pg_advisory_unlock_shared(me.class, 0) END
         ELSE false
       END::boolean AS locked
FROM me;

-- name: UnlockAll :exec
SELECT pg_advisory_unlock_all();

-- name: KeepLockSession :exec
-- The lock's connection is idle between statements by design: a server's
-- idle_session_timeout (PostgreSQL 14 and later) must not end it.
SELECT set_config('idle_session_timeout', '0', false)
WHERE current_setting('server_version_num')::int >= 140000;

-- name: LockShardGate :exec
-- Shard runs take the gate, for the length of their transaction, around
-- the overlap check and the taking of their keys, so that two cannot both
-- pass the check and then both take their keys.
SELECT pg_advisory_xact_lock(@class::int, 2147483647);
