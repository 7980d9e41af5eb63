-- Devices whose activation state went backwards in the last :days days (activated -> activating, or to deactivated).
-- The order is deactivated < activating < activated; a state that disappears
-- (to NULL) is not counted: Webex drops it for devices not added by code.
-- Parameters: days (default 30)
-- Run: psql -v days=90 -f queries/reports/activation_regressions.sql
\if :{?days} \else \set days 30 \endif
WITH ranked AS (
    SELECT c.*,
           CASE c.old_value WHEN 'deactivated' THEN 0 WHEN 'activating' THEN 1 WHEN 'activated' THEN 2 END AS old_rank,
           CASE c.new_value WHEN 'deactivated' THEN 0 WHEN 'activating' THEN 1 WHEN 'activated' THEN 2 END AS new_rank
    FROM device_changes c
    WHERE c.field = 'activation_state'
      AND c.changed_at >= now() - make_interval(days => :'days'::int)
)
SELECT r.changed_at,
       r.device_id,
       d.model,
       r.old_value AS old_state,
       r.new_value AS new_state,
       r.run_id
FROM ranked r
LEFT JOIN devices d USING (device_id)
WHERE r.new_rank < r.old_rank
ORDER BY r.changed_at DESC, r.device_id;
