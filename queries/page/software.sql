-- Devices by software version, as the listing last showed it, most common
-- first, with how many of each are connected now (gone devices are counted
-- apart, never as connected).
-- Run: psql -f queries/page/software.sql
SELECT coalesce(software, '(not listed yet)')                                           AS software,
       count(*) FILTER (WHERE sync_status <> 'not_found')                               AS devices,
       count(*) FILTER (WHERE sync_status <> 'not_found' AND connection_status = 'connected') AS connected,
       count(*) FILTER (WHERE sync_status = 'not_found')                                AS gone
FROM devices
GROUP BY 1
ORDER BY devices DESC, gone DESC, software;
