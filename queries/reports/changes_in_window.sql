-- Every recorded change in a time window, oldest first; optionally one field only.
-- Parameters: since (default: 7 days ago), until (default: now), field (default: all)
-- field is one of: activation_state, ip, mac
-- Run: psql -v since='2024-05-01' -v until='2024-06-01' -v field=ip -f queries/reports/changes_in_window.sql
\if :{?since} \else \set since '' \endif
\if :{?until} \else \set until '' \endif
\if :{?field} \else \set field '' \endif
SELECT c.changed_at,
       c.device_id,
       d.model,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id
FROM device_changes c
LEFT JOIN devices d USING (device_id)
WHERE c.changed_at >= coalesce(nullif(:'since', '')::timestamptz, now() - interval '7 days')
  AND c.changed_at <  coalesce(nullif(:'until', '')::timestamptz, 'infinity')
  AND (:'field' = '' OR c.field = :'field')
ORDER BY c.changed_at, c.change_id;
