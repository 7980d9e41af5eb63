-- Firmware/software versions in the fleet, as the device listing last showed
-- them (GET /v1/devices), most common first, with how many of each are
-- connected now and how many are gone (Webex answers 404 for them: never
-- counted as connected, whatever the listing said last).
-- Run: psql -f queries/reports/devices_by_software.sql
SELECT coalesce(software, '(not listed yet)')                         AS software,
       count(*)                                                       AS devices,
       count(*) FILTER (WHERE connection_status = 'connected')         AS connected,
       count(*) FILTER (WHERE connection_status = 'gone')              AS gone,
       min(product)                                                   AS product
FROM device_inventory
GROUP BY software
ORDER BY devices DESC, software;
