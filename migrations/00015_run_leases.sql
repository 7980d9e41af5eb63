-- +goose Up
-- The run lock as a lease held in a table (internal/store/lock.go), so
-- that it survives a lost session, a server restart and a transaction
-- pooler, none of which a session advisory lock survives. A run holds the
-- row of its scope while it renews expires_at; every transaction of the
-- run first checks its token here (FOR KEY SHARE), so that once another
-- run has taken the scope over (deleting this row, which waits for no one:
-- it refuses while a write of the holder is in flight), nothing of the old
-- run commits. token is the fencing token: it grows with every lease taken.
CREATE TABLE run_leases (
    scope       text PRIMARY KEY,   -- 'all' or 'INDEX/COUNT'
    shard_index integer NOT NULL,
    shard_count integer NOT NULL,   -- 0: the whole fleet
    token       bigint NOT NULL GENERATED ALWAYS AS IDENTITY UNIQUE,
    holder      text NOT NULL,      -- the taker's random name, for a take sent twice
    run_id      bigint,             -- the holder's sync_runs row, once recorded
    taken_at    timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK (shard_count BETWEEN 0 AND 1000),
    CHECK (shard_count = 0 AND shard_index = 0 OR shard_index BETWEEN 0 AND shard_count - 1)
);

COMMENT ON TABLE run_leases IS 'The run lock: the scope each running sync holds, until expires_at unless renewed (README, "One run at a time").';

-- +goose Down
DROP TABLE run_leases;
