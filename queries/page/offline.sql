-- Offline devices (the listing's status; gone devices left out), longest
-- unseen first.
-- Parameters: limit (default 25)
-- Run: psql -f queries/page/offline.sql
\if :{?limit} \else \set limit 25 \endif
SELECT coalesce(d.display_name, '')   AS name,
       d.connection_status            AS status,
       s.last_seen,
       coalesce(d.product, d.model)   AS product,
       d.device_id
FROM devices d
LEFT JOIN device_sync_state s USING (device_id)
WHERE d.sync_status <> 'not_found'
  AND d.connection_status IN ('disconnected', 'offline_expired', 'offline_deep_sleep', 'unknown', 'pending')
ORDER BY s.last_seen NULLS FIRST, d.device_id
LIMIT :'limit'::int;
