-- IP changes (old -> new) observed in the last :days days, newest first.
-- Parameters: days (default 7)
-- Run: psql -v days=30 -f queries/reports/ip_changes.sql
\if :{?days} \else \set days 7 \endif
SELECT c.changed_at,
       d.model,
       c.old_value AS old_ip,
       c.new_value AS new_ip,
       c.run_id,
       c.device_id
FROM device_changes c
LEFT JOIN devices d USING (device_id)
WHERE c.field = 'ip'
  AND c.old_value IS NOT NULL
  AND c.changed_at >= now() - make_interval(days => :'days'::int)
ORDER BY c.changed_at DESC, c.device_id;
