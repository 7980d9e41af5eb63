-- +goose Up
-- List-guided syncing. A run first pages through GET /v1/devices (up to
-- 100 devices a request), and fetches the details only of the devices the
-- listing cannot vouch for. The listing's own fields become columns of the
-- inventory; history still comes only from the details.

-- What the listing says of a device. They change rarely, so they live in
-- the inventory row (rewritten only when one of them changed); the two
-- that move all the time (when the listing last showed the device, and its
-- lastSeen) go to the narrow per-run table.
ALTER TABLE devices
    ADD COLUMN connection_status text,
    ADD COLUMN software          text,
    ADD COLUMN serial            text,
    ADD COLUMN display_name      text,
    ADD COLUMN product           text,
    ADD COLUMN person_id         text,
    ADD COLUMN workspace_id      text,
    ADD COLUMN location_id       text,
    ADD COLUMN listed_ip         inet,
    ADD COLUMN listed_mac        macaddr;

COMMENT ON COLUMN devices.connection_status IS 'connectionStatus in the last listing (GET /v1/devices): connected, disconnected, connected_with_issues, offline_expired, activating, unknown, offline_deep_sleep, pending.';
COMMENT ON COLUMN devices.software IS 'Firmware/software version in the last listing.';
COMMENT ON COLUMN devices.listed_ip IS 'The IP the last listing showed; the details'' IP is in ip. The two are not documented to agree.';
COMMENT ON COLUMN devices.listed_mac IS 'The MAC the last listing showed; the details'' MAC is in mac.';

-- A device the listing shows before any run fetched its details gets its
-- state row from the listing: no attempt yet.
ALTER TABLE device_sync_state
    ALTER COLUMN last_attempt_at DROP NOT NULL,
    ALTER COLUMN last_run_id DROP NOT NULL,
    ADD COLUMN listed_at timestamptz,
    ADD COLUMN last_seen timestamptz;

COMMENT ON COLUMN device_sync_state.listed_at IS 'When a complete or partial listing last showed the device.';
COMMENT ON COLUMN device_sync_state.last_seen IS 'lastSeen in the last listing: when Webex last heard from the device.';

-- A run's accounting of the listing.
ALTER TABLE sync_runs
    ADD COLUMN detect            text NOT NULL DEFAULT 'none' CHECK (detect IN ('none', 'listing')),
    ADD COLUMN listing_status    text CHECK (listing_status IN ('complete', 'incomplete', 'forbidden')),
    ADD COLUMN listing_error     text,
    ADD COLUMN devices_listed    integer NOT NULL DEFAULT 0,
    ADD COLUMN devices_confirmed integer NOT NULL DEFAULT 0,
    ADD COLUMN listing_requests  integer NOT NULL DEFAULT 0,
    ADD COLUMN details_requests  integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN sync_runs.detect IS 'listing: the run read GET /v1/devices to decide which devices need their details; none: it fetched every device.';
COMMENT ON COLUMN sync_runs.listing_status IS 'complete: every org''s listing was read whole; incomplete: some page failed (no device was excused by it); forbidden: the token cannot list (no spark-admin:devices_read). NULL with detect none.';
COMMENT ON COLUMN sync_runs.devices_listed IS 'Tracked devices of the run''s scope that the listing showed.';
COMMENT ON COLUMN sync_runs.devices_confirmed IS 'Devices of the scope whose details were not fetched: the listing vouched for them.';
COMMENT ON COLUMN sync_runs.listing_requests IS 'HTTP requests the listing sweep sent (pages and their retries).';
COMMENT ON COLUMN sync_runs.details_requests IS 'HTTP requests for device details (and their retries).';

-- What the sweep saw of each tracked device, for the run that made it:
-- why the listing says its details are needed (reason), or NULL when the
-- listing vouches for it. UNLOGGED, like run_queue: rebuilt every run.
CREATE UNLOGGED TABLE run_listing (
    run_id            bigint NOT NULL,
    device_id         text NOT NULL,
    org_key           text NOT NULL, -- the org the device was listed for ('' : the token's own)
    ip                inet,
    mac               macaddr,
    connection_status text,
    reason            text,
    PRIMARY KEY (run_id, device_id)
);

COMMENT ON TABLE run_listing IS 'Each running sync run''s view of the listing: one row per tracked device it showed; emptied when the run ends.';

-- Why a device is in a run's work list (never_synced, failed, listing_ip,
-- listing_mac, activating, connection_status, not_listed,
-- listing_incomplete, max_age, all, ...).
ALTER TABLE run_queue ADD COLUMN reason text NOT NULL DEFAULT 'all';

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
       d.connection_status,
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
       s.last_seen
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);

-- +goose Down
DROP VIEW device_inventory;
CREATE VIEW device_inventory AS
SELECT d.device_id, d.org_id, d.manufacturer, d.managed_by, d.model,
       host(d.ip) AS ip, d.mac::text AS mac, d.activation_state, d.tags,
       d.upgrade_channel_enabled, d.owner_sip_user_name, d.owner_line_port,
       d.outbound_proxy, d.sync_status, d.last_error,
       coalesce(s.consecutive_failures, 0) AS consecutive_failures,
       d.added_at, d.first_synced_at, s.last_synced_at, s.last_attempt_at, d.last_changed_at,
       floor(extract(epoch FROM now() - s.last_synced_at) / 86400)::int AS days_since_synced
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);
ALTER TABLE run_queue DROP COLUMN reason;
DROP TABLE run_listing;
ALTER TABLE sync_runs
    DROP COLUMN details_requests, DROP COLUMN listing_requests, DROP COLUMN devices_confirmed,
    DROP COLUMN devices_listed, DROP COLUMN listing_error, DROP COLUMN listing_status, DROP COLUMN detect;
DELETE FROM device_sync_state WHERE last_attempt_at IS NULL;
ALTER TABLE device_sync_state
    DROP COLUMN last_seen, DROP COLUMN listed_at,
    ALTER COLUMN last_run_id SET NOT NULL,
    ALTER COLUMN last_attempt_at SET NOT NULL;
ALTER TABLE devices
    DROP COLUMN listed_mac, DROP COLUMN listed_ip, DROP COLUMN location_id, DROP COLUMN workspace_id,
    DROP COLUMN person_id, DROP COLUMN product, DROP COLUMN display_name, DROP COLUMN serial,
    DROP COLUMN software, DROP COLUMN connection_status;
