-- Devices the device listing last showed as not connected (disconnected,
-- offline_expired, offline_deep_sleep, unknown, pending), longest unseen
-- first, with where they are and who has them; then the devices that are
-- gone (Webex answers 404 for them), marked gone.
-- Run: psql -f queries/reports/devices_offline.sql
SELECT device_id,
       connection_status,
       last_seen,
       display_name,
       product,
       location_id,
       coalesce(person_id, workspace_id) AS owner_id,
       listed_at
FROM device_inventory
WHERE connection_status IN ('disconnected', 'offline_expired', 'offline_deep_sleep', 'unknown', 'pending', 'gone')
ORDER BY connection_status = 'gone', last_seen NULLS FIRST, device_id;
