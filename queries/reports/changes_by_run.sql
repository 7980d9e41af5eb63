-- What one run recorded: its history rows, by field. Defaults to the latest
-- run that recorded any.
-- Parameters: run_id (default: the latest run with changes)
-- Run: psql -v run_id=2 -f queries/reports/changes_by_run.sql
\if :{?run_id} \else \set run_id 0 \endif
WITH chosen AS (
    SELECT CASE WHEN :'run_id'::bigint > 0 THEN :'run_id'::bigint
                ELSE (SELECT max(run_id) FROM device_changes) END AS run_id
)
SELECT c.run_id,
       c.field,
       count(*)                                   AS changes,
       count(*) FILTER (WHERE c.old_value IS NULL) AS from_absent,
       count(*) FILTER (WHERE c.new_value IS NULL) AS to_absent
FROM device_changes c
JOIN chosen USING (run_id)
GROUP BY c.run_id, c.field
ORDER BY c.field;
