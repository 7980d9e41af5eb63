-- How stale the inventory is, per org: the age of the details held for
-- each device (the last successful Get Device Details), against the max
-- age a list-guided run keeps them under (--detail-max-age). A change the
-- device listing cannot show (a deactivation, say) reaches the history
-- at the latest when the device's details are refreshed, so the oldest
-- age here is how long such a change may still be waiting. Devices never
-- synced and devices gone from Webex have no details to age, and are
-- counted apart.
-- Parameters: max_age (default '24 hours', as --detail-max-age)
-- Run: psql -v max_age='24 hours' -f queries/reports/details_age.sql
\if :{?max_age} \else \set max_age '24 hours' \endif
WITH aged AS (
    SELECT coalesce(d.org_id, '') AS org_id,
           d.sync_status,
           extract(epoch FROM now() - s.last_synced_at) / 3600 AS age_h
    FROM devices d
    LEFT JOIN device_sync_state s USING (device_id)
)
SELECT org_id,
       count(*)                                                              AS devices,
       count(age_h) FILTER (WHERE sync_status <> 'not_found')               AS with_details,
       count(*) FILTER (WHERE age_h IS NULL AND sync_status <> 'not_found') AS never_synced,
       count(*) FILTER (WHERE sync_status = 'not_found')                    AS gone,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY age_h)
                  FILTER (WHERE sync_status <> 'not_found'))::numeric, 1)   AS median_h,
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY age_h)
                  FILTER (WHERE sync_status <> 'not_found'))::numeric, 1)   AS p99_h,
       round((max(age_h) FILTER (WHERE sync_status <> 'not_found'))::numeric, 1) AS oldest_h,
       count(*) FILTER (WHERE sync_status <> 'not_found'
                          AND age_h > extract(epoch FROM :'max_age'::interval) / 3600) AS older_than_max_age
FROM aged
GROUP BY org_id
ORDER BY oldest_h DESC NULLS LAST, org_id;
