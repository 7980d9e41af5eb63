-- +goose Up

-- Discovery runs: one row per "discover", whatever its outcome. Kept apart
-- from sync_runs, whose accounting is about fetching details.
CREATE TABLE discovery_runs (
    discovery_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'failed')),
    org_id          text,
    dry_run         boolean NOT NULL DEFAULT false,
    prune           boolean NOT NULL DEFAULT false,
    pages           integer NOT NULL DEFAULT 0,
    devices_listed  integer NOT NULL DEFAULT 0, -- items in the listing
    calling_listed  integer NOT NULL DEFAULT 0, -- of them with a valid callingDeviceId
    rejected        integer NOT NULL DEFAULT 0, -- callingDeviceIds that are not device IDs
    added           integer NOT NULL DEFAULT 0,
    unlisted        integer NOT NULL DEFAULT 0, -- tracked in scope but not listed
    removed         integer NOT NULL DEFAULT 0, -- of them removed (--prune)
    error           text
);

COMMENT ON TABLE discovery_runs IS 'One row per device discovery (GET /v1/devices): what it listed, added and removed.';

-- The audit of the audit: every retention prune of device_changes.
CREATE TABLE history_prunes (
    prune_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pruned_at    timestamptz NOT NULL DEFAULT now(),
    pruned_by    text NOT NULL DEFAULT current_user,
    older_than   interval NOT NULL,
    cutoff       timestamptz NOT NULL,
    rows_deleted bigint NOT NULL
);

COMMENT ON TABLE history_prunes IS 'Every retention prune of device_changes (wxc-sync prune-history): the only way history rows leave.';

-- History is append-only. UPDATE and TRUNCATE are always refused; DELETE
-- only inside a transaction that has set wxc_sync.allow_history_prune, which
-- "wxc-sync prune-history" alone does. Any role may set the setting, so the
-- trigger guards against accidents; the guard against a role that should not
-- rewrite history is privileges: the sync role has no UPDATE or DELETE on
-- device_changes (README, "Database privileges"). Disabling the trigger
-- needs ownership of the table.
-- +goose StatementBegin
CREATE FUNCTION device_changes_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('wxc_sync.allow_history_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'device_changes is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'History rows leave only through "wxc-sync prune-history --older-than ...".';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER device_changes_no_update_delete
    BEFORE UPDATE OR DELETE ON device_changes
    FOR EACH ROW EXECUTE FUNCTION device_changes_append_only();

CREATE TRIGGER device_changes_no_truncate
    BEFORE TRUNCATE ON device_changes
    FOR EACH STATEMENT EXECUTE FUNCTION device_changes_append_only();

-- The time-window reports (changes, IP, MAC, activation in the last N days)
-- use device_changes_changed_at_idx: EXPLAIN on 1M rows showed the planner
-- prefers it to a (field, changed_at) index even for the rarest field, so
-- none is added (README, "Reporting and audit"). A device's timeline and its
-- state field by field read this one.
CREATE INDEX device_changes_device_field_time_idx ON device_changes (device_id, field, changed_at, change_id);

-- Views for BI tools and psql users: a stable, readable surface over the
-- tables, with PostgreSQL types turned into the text people expect.
CREATE VIEW device_inventory AS
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

COMMENT ON VIEW device_inventory IS 'Tracked devices, one row each, with readable IP and MAC and the days since the last successful sync.';

CREATE VIEW device_change_log AS
SELECT c.change_id,
       c.changed_at,
       c.device_id,
       d.model,
       d.owner_sip_user_name,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id,
       (d.device_id IS NOT NULL) AS still_tracked
FROM device_changes c
LEFT JOIN devices d USING (device_id);

COMMENT ON VIEW device_change_log IS 'Every recorded change, with the device''s model and owner when it is still tracked.';

-- +goose Down
DROP VIEW device_change_log;
DROP VIEW device_inventory;
DROP INDEX device_changes_device_field_time_idx;
DROP TRIGGER device_changes_no_truncate ON device_changes;
DROP TRIGGER device_changes_no_update_delete ON device_changes;
DROP FUNCTION device_changes_append_only();
DROP TABLE history_prunes;
DROP TABLE discovery_runs;
