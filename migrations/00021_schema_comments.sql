-- +goose Up
-- Every table says what it holds where a DBA or a BI tool looks (\d+,
-- column descriptions), and points at the page that says more; the run
-- lock's pointed at a README section that moved to docs/OPERATIONS.md.
-- docs/SCHEMA.md is the full reference, checked against the migrated
-- schema by docs/schema_test.go.
COMMENT ON TABLE sync_runs IS 'One row per sync run: its scope, status, counters (moved in the same statement as the rows they count) and what it asked of Webex (docs/SCHEMA.md).';
COMMENT ON COLUMN sync_runs.status IS 'running, succeeded, partial (some devices failed, or the time budget left some for the next run), failed, interrupted (a signal) or abandoned (the process died or lost its lock).';
COMMENT ON TABLE run_leases IS 'The run lock: the scope each running sync holds, until expires_at unless renewed (docs/OPERATIONS.md, "One run at a time").';
COMMENT ON COLUMN run_leases.token IS 'The fencing token, growing with every lease taken: every write transaction of a run checks it, so that nothing of a run commits once another has taken its scope over.';
COMMENT ON COLUMN devices.sync_status IS 'pending (never fetched), ok, not_found (Webex answers 404), forbidden (403 for this device) or error; last_error says why.';
COMMENT ON COLUMN devices.shard_hash IS 'Places the device in a shard of a sharded run, INDEX/COUNT (generated from device_id; see docs/OPERATIONS.md, "Sharding a large fleet").';

-- +goose Down
COMMENT ON COLUMN devices.shard_hash IS NULL;
COMMENT ON COLUMN devices.sync_status IS NULL;
COMMENT ON COLUMN run_leases.token IS NULL;
COMMENT ON TABLE run_leases IS 'The run lock: the scope each running sync holds, until expires_at unless renewed (README, "One run at a time").';
COMMENT ON COLUMN sync_runs.status IS NULL;
COMMENT ON TABLE sync_runs IS NULL;
