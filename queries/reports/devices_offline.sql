-- Devices the device listing last showed as not connected (disconnected,
-- offline_expired, offline_deep_sleep, unknown, pending), longest unseen
-- first, with who has them and where; then the devices that are gone
-- (Webex answers 404 for them), marked gone. owner is the owner's SIP
-- user name from the details, else the person's or workspace's ID from the
-- listing (the inventory knows no location's name).
-- Run: psql -f queries/reports/devices_offline.sql
-- In a narrow table, left out first: listed_at, location_id, product
SELECT device_id,
       display_name,
       connection_status,
       last_seen,
       coalesce(owner_sip_user_name, person_id, workspace_id) AS owner,
       product,
       location_id,
       listed_at
FROM device_inventory
WHERE connection_status IN ('disconnected', 'offline_expired', 'offline_deep_sleep', 'unknown', 'pending', 'gone')
ORDER BY connection_status = 'gone', last_seen NULLS FIRST, device_id;
