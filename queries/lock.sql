-- The run lock: session-level advisory locks on one pinned connection (see
-- internal/store/lock.go). Every key is two ints, the first the job's class
-- ("wxsy"), so that they cannot collide with another application's locks
-- or with goose's one-key migration lock.

-- name: TryLockFleet :one
-- A whole-fleet run: the fleet key, exclusively.
SELECT pg_try_advisory_lock(@class::int, 0) AS locked;

-- name: TryLockShard :one
-- A shard run: the fleet key shared (so shards run side by side and a
-- whole-fleet run excludes them), and its shard's key exclusively. On a
-- partial success it lets go of the shared key it took.
SELECT CASE WHEN pg_try_advisory_lock_shared(@class::int, 0) THEN
         CASE WHEN pg_try_advisory_lock(@class::int, @shard_key::int) THEN true
              ELSE NOT pg_advisory_unlock_shared(@class::int, 0) END
       ELSE false END::boolean AS locked;

-- name: UnlockAll :exec
SELECT pg_advisory_unlock_all();
