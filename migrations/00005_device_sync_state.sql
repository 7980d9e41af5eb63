-- +goose Up
-- What every run moves for every device (when it was last tried, when it
-- last succeeded, by which run, how many failures in a row) leaves the wide
-- inventory row for a narrow table of its own. An hourly run that finds
-- nothing new then writes one small row per device, as a HOT update (no
-- index covers these columns), and leaves devices, with its details JSON,
-- untouched.
--
-- fillfactor 45: a run updates every row of a page in the same batch
-- transaction, and the old versions cannot be pruned before it commits, so
-- a page must have room for a second version of each of its rows for every
-- update to stay HOT. VACUUM between runs takes the old versions back.
CREATE TABLE device_sync_state (
    device_id            text PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    last_attempt_at      timestamptz NOT NULL,
    last_synced_at       timestamptz,
    last_run_id          bigint NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0
) WITH (fillfactor = 45);

COMMENT ON TABLE device_sync_state IS 'Per-device sync bookkeeping that every run moves; one row per device attempted at least once.';
COMMENT ON COLUMN device_sync_state.last_attempt_at IS 'Last fetch attempt, whatever its outcome; runs take the stalest first.';
COMMENT ON COLUMN device_sync_state.last_synced_at IS 'Last successful fetch (sync_status ok).';
COMMENT ON COLUMN device_sync_state.last_run_id IS 'The run that last attempted the device; a run''s final accounting is recounted from it.';

INSERT INTO device_sync_state (device_id, last_attempt_at, last_synced_at, last_run_id, consecutive_failures)
SELECT device_id, last_attempt_at, last_synced_at, coalesce(last_run_id, 0), consecutive_failures
FROM devices
WHERE last_attempt_at IS NOT NULL;

-- The view keeps the names SQL users know (and, replaced rather than
-- dropped, the grants made on it).
CREATE OR REPLACE VIEW device_inventory AS
SELECT d.device_id,
       d.org_id,
       d.manufacturer,
       d.managed_by,
       d.model,
       host(d.ip)                                      AS ip,
       d.mac::text                                     AS mac,
       d.activation_state,
       d.tags,
       d.upgrade_channel_enabled,
       d.owner_sip_user_name,
       d.owner_line_port,
       d.outbound_proxy,
       d.sync_status,
       d.last_error,
       coalesce(s.consecutive_failures, 0)             AS consecutive_failures,
       d.added_at,
       d.first_synced_at,
       s.last_synced_at,
       s.last_attempt_at,
       d.last_changed_at,
       floor(extract(epoch FROM now() - s.last_synced_at) / 86400)::int AS days_since_synced
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);

DROP INDEX devices_due_idx;
ALTER TABLE devices
    DROP COLUMN last_attempt_at,
    DROP COLUMN last_synced_at,
    DROP COLUMN last_run_id,
    DROP COLUMN consecutive_failures;
-- Room for a changed device's new version on its own page (a HOT update).
ALTER TABLE devices SET (fillfactor = 90);


-- A run's work list: the devices it is to fetch, in the order it fetches
-- them (stalest first), written once when the run starts and read a page at
-- a time by position. Sorting once per run replaces an index on
-- last_attempt_at, which every run would move (and which would make every
-- state update non-HOT). UNLOGGED: the list is rebuilt by the next run, so
-- it is worth no WAL; after a crash PostgreSQL empties it, and the run that
-- owned it is dead anyway.
CREATE UNLOGGED TABLE run_queue (
    run_id    bigint NOT NULL,
    pos       integer NOT NULL,
    device_id text NOT NULL,
    org_id    text,
    PRIMARY KEY (run_id, pos)
);

COMMENT ON TABLE run_queue IS 'Each running sync run''s list of devices to fetch, in order; emptied when the run ends.';

-- +goose Down
DROP TABLE run_queue;
ALTER TABLE devices RESET (fillfactor);
ALTER TABLE devices
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN last_synced_at timestamptz,
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN last_run_id bigint;
UPDATE devices d
SET consecutive_failures = s.consecutive_failures,
    last_synced_at = s.last_synced_at,
    last_attempt_at = s.last_attempt_at,
    last_run_id = nullif(s.last_run_id, 0)
FROM device_sync_state s
WHERE s.device_id = d.device_id;
CREATE OR REPLACE VIEW device_inventory AS
SELECT d.device_id,
       d.org_id,
       d.manufacturer,
       d.managed_by,
       d.model,
       host(d.ip)                                      AS ip,
       d.mac::text                                     AS mac,
       d.activation_state,
       d.tags,
       d.upgrade_channel_enabled,
       d.owner_sip_user_name,
       d.owner_line_port,
       d.outbound_proxy,
       d.sync_status,
       d.last_error,
       d.consecutive_failures,
       d.added_at,
       d.first_synced_at,
       d.last_synced_at,
       d.last_attempt_at,
       d.last_changed_at,
       floor(extract(epoch FROM now() - d.last_synced_at) / 86400)::int AS days_since_synced
FROM devices d;
CREATE INDEX devices_due_idx ON devices ((coalesce(last_attempt_at, '-infinity'::timestamptz)), device_id);
DROP TABLE device_sync_state;
