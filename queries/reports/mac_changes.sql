-- MAC changes (old -> new) in the last :days days: a device whose MAC changed had its hardware swapped.
-- Parameters: days (default 30)
-- Run: psql -v days=90 -f queries/reports/mac_changes.sql
\if :{?days} \else \set days 30 \endif
SELECT c.changed_at,
       c.device_id,
       d.model,
       d.owner_sip_user_name AS owner,
       c.old_value AS old_mac,
       c.new_value AS new_mac,
       c.run_id
FROM device_changes c
LEFT JOIN devices d USING (device_id)
WHERE c.field = 'mac'
  AND c.old_value IS NOT NULL
  AND c.new_value IS NOT NULL
  AND c.changed_at >= now() - make_interval(days => :'days'::int)
ORDER BY c.changed_at DESC, c.device_id;
