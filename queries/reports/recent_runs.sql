-- The latest runs and their accounting.
-- Parameters: limit (default 10)
-- Run: psql -f queries/reports/recent_runs.sql
\if :{?limit} \else \set limit 10 \endif
SELECT run_id,
       status,
       started_at,
       finished_at - started_at AS duration,
       devices_total,
       devices_ok,
       devices_changed,
       devices_not_found,
       devices_failed,
       changes_recorded,
       error
FROM sync_runs
ORDER BY run_id DESC
LIMIT :'limit'::int;
