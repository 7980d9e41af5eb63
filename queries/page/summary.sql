-- The fleet page's headline: devices tracked, gone (Webex answers 404 for
-- them), failing, offline (the listing's status, gone devices left out),
-- when the inventory last synced a device and when the last run ended.
-- Run: psql -f queries/page/summary.sql
SELECT count(*)                                                              AS devices,
       count(*) FILTER (WHERE d.sync_status = 'not_found')                   AS gone,
       count(*) FILTER (WHERE d.sync_status IN ('forbidden', 'error'))       AS failing,
       count(*) FILTER (WHERE d.sync_status <> 'not_found'
                          AND d.connection_status IN ('disconnected', 'offline_expired', 'offline_deep_sleep', 'unknown', 'pending'))
                                                                             AS offline,
       count(*) FILTER (WHERE s.last_synced_at IS NULL)                      AS never_synced,
       max(s.last_synced_at)                                                 AS last_synced_at,
       (SELECT max(finished_at) FROM sync_runs WHERE status = 'succeeded')   AS last_success_at,
       (SELECT max(finished_at) FROM sync_runs)                              AS last_run_at
FROM devices d
LEFT JOIN device_sync_state s USING (device_id);
