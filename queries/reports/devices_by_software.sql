-- Firmware/software versions in the fleet, as the device listing last showed
-- them (GET /v1/devices), most common first, with how many of each are
-- connected now.
-- Run: psql -f queries/reports/devices_by_software.sql
SELECT coalesce(software, '(not listed yet)')                         AS software,
       count(*)                                                       AS devices,
       count(*) FILTER (WHERE connection_status = 'connected')         AS connected,
       min(product)                                                   AS product
FROM devices
GROUP BY software
ORDER BY devices DESC, software;
