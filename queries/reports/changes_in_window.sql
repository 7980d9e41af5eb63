-- Every recorded change that may have happened in a time window, oldest
-- first; optionally one field only (devices show names the device). A change happened after
-- old_value_seen_at (the last time the job saw the old value) and at or
-- before changed_at (when it noticed the new one): it is listed when that
-- window meets [since, until), so a change noticed after until that may
-- have happened before it is listed too. Rows without old_value_seen_at
-- (a first sync, or recorded before change windows existed) count at
-- changed_at.
-- Parameters: since (default: 7 days ago), until (default: now), field (default: all)
-- field is one of: activation_state, ip, mac
-- Run: psql -v since='2024-05-01' -v until='2024-06-01' -v field=ip -f queries/reports/changes_in_window.sql
-- In a narrow table, left out first: run_id
\if :{?since} \else \set since '' \endif
\if :{?until} \else \set until '' \endif
\if :{?field} \else \set field '' \endif
SELECT c.old_value_seen_at,
       c.changed_at,
       c.device_id,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id
FROM device_changes c
WHERE c.changed_at >= coalesce(nullif(:'since', '')::timestamptz, now() - interval '7 days')
  AND coalesce(c.old_value_seen_at, c.changed_at) < coalesce(nullif(:'until', '')::timestamptz, 'infinity')
  AND (:'field' = '' OR c.field = :'field')
ORDER BY c.changed_at, c.change_id;
