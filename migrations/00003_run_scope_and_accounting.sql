-- +goose Up
-- A run covers a scope: the whole fleet ('all') or one shard ('2/4'), so
-- that a large fleet can be split across pods, each with its own lock.
ALTER TABLE sync_runs
    ADD COLUMN scope text NOT NULL DEFAULT 'all',
    ADD COLUMN devices_skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN throttled integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

COMMENT ON COLUMN sync_runs.scope IS 'all, or INDEX/COUNT for a shard of the fleet.';
COMMENT ON COLUMN sync_runs.devices_skipped IS 'Devices due but not stored: the run stopped (signal, time budget, failure) before them.';
COMMENT ON COLUMN sync_runs.throttled IS '429 and 423 answers received from Webex.';
COMMENT ON COLUMN sync_runs.updated_at IS 'Last time the run wrote progress; a running run that stopped updating died.';

CREATE INDEX sync_runs_running_idx ON sync_runs (scope) WHERE status = 'running';

-- The run that last attempted the device: a run's final accounting is
-- recounted from the rows themselves, so that a batch retried after a lost
-- connection cannot count twice.
ALTER TABLE devices
    ADD COLUMN last_run_id bigint,
    -- A stable hash of the ID for sharding: the same device always lands in
    -- the same shard, whatever the PostgreSQL version or platform.
    ADD COLUMN shard_hash integer GENERATED ALWAYS AS (('x' || substr(md5(device_id), 1, 8))::bit(32)::integer) STORED;

CREATE INDEX devices_last_run_idx ON devices (last_run_id);

-- +goose Down
DROP INDEX devices_last_run_idx;
ALTER TABLE devices DROP COLUMN shard_hash, DROP COLUMN last_run_id;
DROP INDEX sync_runs_running_idx;
ALTER TABLE sync_runs DROP COLUMN updated_at, DROP COLUMN throttled, DROP COLUMN devices_skipped, DROP COLUMN scope;
