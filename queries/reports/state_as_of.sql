-- Every device's activation state, IP and MAC as of a given time, reconstructed from the history alone.
-- Devices removed since are included; devices first synced after as_of are not.
-- Parameters: as_of (default: now)
-- Run: psql -v as_of='2024-05-01 12:00+00' -f queries/reports/state_as_of.sql
\if :{?as_of} \else \set as_of '' \endif
WITH latest AS (
    -- The last change of each (device, field) at or before as_of. The order
    -- is the index device_changes_device_field_time_idx read backwards.
    SELECT DISTINCT ON (c.device_id, c.field)
           c.device_id, c.field, c.new_value, c.changed_at
    FROM device_changes c
    WHERE c.changed_at <= coalesce(nullif(:'as_of', '')::timestamptz, now())
    ORDER BY c.device_id DESC, c.field DESC, c.changed_at DESC, c.change_id DESC
)
SELECT l.device_id,
       max(l.new_value) FILTER (WHERE l.field = 'activation_state') AS activation_state,
       max(l.new_value) FILTER (WHERE l.field = 'ip')               AS ip,
       max(l.new_value) FILTER (WHERE l.field = 'mac')              AS mac,
       max(l.changed_at)                                            AS last_change_at
FROM latest l
GROUP BY l.device_id
ORDER BY l.device_id;
