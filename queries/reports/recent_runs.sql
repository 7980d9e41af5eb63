-- The latest runs and their accounting (devices: total, ok, changed, not_found, failed;
-- changes: history rows recorded).
-- Parameters: limit (default 10)
-- Run: psql -f queries/reports/recent_runs.sql
\if :{?limit} \else \set limit 10 \endif
SELECT run_id,
       status,
       started_at,
       finished_at - started_at AS duration,
       devices_total     AS total,
       devices_ok        AS ok,
       devices_changed   AS changed,
       devices_not_found AS not_found,
       devices_failed    AS failed,
       changes_recorded  AS changes,
       error
FROM sync_runs
ORDER BY run_id DESC
LIMIT :'limit'::int;
