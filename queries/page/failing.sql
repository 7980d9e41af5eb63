-- Devices whose last sync failed, the longest failing first, with the
-- reason.
-- Parameters: limit (default 25)
-- Run: psql -f queries/page/failing.sql
\if :{?limit} \else \set limit 25 \endif
SELECT coalesce(d.display_name, '')           AS name,
       d.sync_status                          AS status,
       coalesce(s.consecutive_failures, 0)    AS failures,
       s.last_synced_at,
       d.last_error,
       d.device_id
FROM devices d
LEFT JOIN device_sync_state s USING (device_id)
WHERE d.sync_status IN ('forbidden', 'error')
ORDER BY failures DESC, s.last_synced_at NULLS FIRST, d.device_id
LIMIT :'limit'::int;
