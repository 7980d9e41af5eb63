-- The last runs: status, when, how long, requests (listing pages and
-- details), devices due and how they ended, history rows recorded, the
-- devices refreshed for age, and how stale the details were when the run
-- ended (the oldest and the 99th percentile, in hours).
-- Parameters: limit (default 15)
-- Run: psql -f queries/page/runs.sql
\if :{?limit} \else \set limit 15 \endif
SELECT run_id,
       scope,
       status,
       started_at,
       round(extract(epoch FROM coalesce(finished_at, updated_at) - started_at)::numeric, 1) AS seconds,
       listing_requests + details_requests AS requests,
       throttled,
       devices_total     AS due,
       devices_ok        AS ok,
       devices_failed    AS failed,
       devices_not_found AS gone,
       changes_recorded  AS changes,
       devices_refreshed AS refreshed,
       round((details_age_max_seconds / 3600)::numeric, 1) AS oldest_details_h,
       round((details_age_p99_seconds / 3600)::numeric, 1) AS p99_details_h,
       error
FROM sync_runs
ORDER BY run_id DESC
LIMIT :'limit'::int;
