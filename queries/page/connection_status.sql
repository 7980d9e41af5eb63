-- Devices by connection status, as the device listing last showed it. A
-- device Webex answers 404 for is gone, whatever status it last had; one
-- the listing never showed is "not listed".
-- Run: psql -f queries/page/connection_status.sql
SELECT CASE WHEN sync_status = 'not_found' THEN 'gone'
            ELSE coalesce(connection_status, 'not listed') END AS status,
       count(*)                                                AS devices
FROM devices
GROUP BY 1
ORDER BY devices DESC, status;
