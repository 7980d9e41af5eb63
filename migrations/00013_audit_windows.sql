-- +goose Up
-- The audit trail says in which window a change happened, how stale the
-- inventory is, and that a deleted device is gone (issue 16).

-- Change windows. A history row says when the job noticed a change
-- (changed_at); old_value_seen_at says when it last saw the old value, from
-- the details or, for IP and MAC, from a trusted listing that showed the
-- stored value. The change happened in (old_value_seen_at, changed_at].
-- NULL: the job never saw an old value (the device's first sync), or the
-- row was written before this migration.
ALTER TABLE device_changes ADD COLUMN old_value_seen_at timestamptz;

COMMENT ON COLUMN device_changes.old_value_seen_at IS 'The last time the job saw old_value (details, or a trusted listing for ip and mac): the change happened after it and at or before changed_at. NULL: no earlier observation (first sync), or recorded before change windows existed (migration 13).';

-- When a trusted listing last showed both the IP and the MAC the details
-- hold: the listing's confirmation opens the window of a later change of
-- either, without a history row. Every listing pass rewrites this narrow
-- row anyway (listed_at), and in the common case (the listing confirms)
-- the column is NULL, which costs the row no bytes: NULL means "confirmed
-- by the listing at listed_at". A pass that does not confirm (the listing
-- shows another value or leaves one out, or is not trusted for a field)
-- keeps the earlier confirmation, -infinity for none. One column for both
-- fields, not two: a ninth column would widen every row's header by 8
-- bytes, and a device the listing does not confirm has its details fetched
-- in that run anyway (flagged, or its org's listing distrusted), so the
-- fetch opens the next window. device_inventory shows the plain time
-- (listing_confirmed_at).
ALTER TABLE device_sync_state ADD COLUMN listing_confirmed_earlier timestamptz;

COMMENT ON COLUMN device_sync_state.listing_confirmed_earlier IS 'NULL: the listing at listed_at showed the IP and MAC the details hold (devices.ip, devices.mac). Otherwise the last earlier time a trusted listing did; -infinity for never.';

-- Staleness and the refresh share of each run.
ALTER TABLE sync_runs
    ADD COLUMN devices_refreshed       integer NOT NULL DEFAULT 0,
    ADD COLUMN details_age_max_seconds double precision,
    ADD COLUMN details_age_p99_seconds double precision;

COMMENT ON COLUMN sync_runs.devices_refreshed IS 'Devices in the work list only because their details were due a refresh (reason max_age), not because anything suggested a change.';
COMMENT ON COLUMN sync_runs.details_age_max_seconds IS 'At the run''s end: the age of the oldest details held for a device of its scope (gone devices and devices never synced left out).';
COMMENT ON COLUMN sync_runs.details_age_p99_seconds IS 'At the run''s end: the 99th percentile of the age of the details held for the devices of its scope.';

-- A device Webex answers 404 for has no live connection status: the view
-- says 'gone' rather than the last status the listing showed (reports
-- count by it). The listing's last word stays in listed_connection_status.
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
       floor(extract(epoch FROM now() - s.last_synced_at) / 86400)::int AS days_since_synced,
       CASE WHEN d.sync_status = 'not_found' THEN 'gone' ELSE d.connection_status END AS connection_status,
       d.software,
       d.serial,
       d.display_name,
       d.product,
       d.person_id,
       d.workspace_id,
       d.location_id,
       host(d.listed_ip)                               AS listed_ip,
       d.listed_mac::text                              AS listed_mac,
       s.listed_at,
       s.last_seen,
       d.connection_status                             AS listed_connection_status,
       CASE WHEN s.listing_confirmed_earlier IS NULL THEN s.listed_at
            ELSE nullif(s.listing_confirmed_earlier, '-infinity') END AS listing_confirmed_at
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);

COMMENT ON COLUMN device_inventory.listing_confirmed_at IS 'When a trusted listing last showed the IP and MAC the details hold; NULL: never.';
COMMENT ON COLUMN device_inventory.connection_status IS 'connectionStatus in the last listing, or gone when Webex answers 404 for the device (sync_status not_found).';

CREATE OR REPLACE VIEW device_change_log AS
SELECT c.change_id,
       c.changed_at,
       c.device_id,
       d.model,
       d.owner_sip_user_name,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id,
       (d.device_id IS NOT NULL) AS still_tracked,
       c.old_value_seen_at
FROM device_changes c
LEFT JOIN devices d USING (device_id);

-- +goose Down
DROP VIEW device_change_log;
CREATE VIEW device_change_log AS
SELECT c.change_id, c.changed_at, c.device_id, d.model, d.owner_sip_user_name, c.field,
       c.old_value, c.new_value, c.run_id, (d.device_id IS NOT NULL) AS still_tracked
FROM device_changes c
LEFT JOIN devices d USING (device_id);
COMMENT ON VIEW device_change_log IS 'Every recorded change, with the device''s model and owner when it is still tracked.';
DROP VIEW device_inventory;
CREATE VIEW device_inventory AS
SELECT d.device_id, d.org_id, d.manufacturer, d.managed_by, d.model,
       host(d.ip) AS ip, d.mac::text AS mac, d.activation_state, d.tags,
       d.upgrade_channel_enabled, d.owner_sip_user_name, d.owner_line_port,
       d.outbound_proxy, d.sync_status, d.last_error,
       coalesce(s.consecutive_failures, 0) AS consecutive_failures,
       d.added_at, d.first_synced_at, s.last_synced_at, s.last_attempt_at, d.last_changed_at,
       floor(extract(epoch FROM now() - s.last_synced_at) / 86400)::int AS days_since_synced,
       d.connection_status, d.software, d.serial, d.display_name, d.product, d.person_id,
       d.workspace_id, d.location_id, host(d.listed_ip) AS listed_ip, d.listed_mac::text AS listed_mac,
       s.listed_at, s.last_seen
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);
ALTER TABLE sync_runs
    DROP COLUMN details_age_p99_seconds, DROP COLUMN details_age_max_seconds, DROP COLUMN devices_refreshed;
ALTER TABLE device_sync_state DROP COLUMN listing_confirmed_earlier;
ALTER TABLE device_changes DROP COLUMN old_value_seen_at;
