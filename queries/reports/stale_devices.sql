-- Devices not synced successfully for :days days (or never, if tracked that long), stalest first.
-- Parameters: days (default 7)
-- Run: psql -v days=3 -f queries/reports/stale_devices.sql
-- In a narrow table, left out first: last_attempt_at
\if :{?days} \else \set days 7 \endif
SELECT device_id,
       sync_status,
       last_synced_at,
       last_attempt_at,
       consecutive_failures,
       last_error
FROM device_inventory
WHERE coalesce(last_synced_at, added_at) < now() - make_interval(days => :'days'::int)
ORDER BY last_synced_at NULLS FIRST, added_at, device_id;
