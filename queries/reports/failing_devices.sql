-- Devices whose last sync did not succeed, and why; the longest failing first.
-- Run: psql -f queries/reports/failing_devices.sql
-- In a narrow table, left out first: last_attempt_at, last_synced_at
SELECT device_id,
       sync_status,
       consecutive_failures,
       last_synced_at,
       last_attempt_at,
       last_error
FROM device_inventory
WHERE sync_status IN ('forbidden', 'error')
ORDER BY consecutive_failures DESC, last_synced_at NULLS FIRST, device_id;
