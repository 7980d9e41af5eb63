-- The latest runs and their accounting: secs, how long each took; devices: total
-- due, ok, changed, gone (not_found: Webex no longer has them), failed; changes: history rows recorded; vouched:
-- devices the listing confirmed, with no details request; pages, details: the
-- requests for listing pages and for details (retries included); missed: changes
-- the audit sample found that the listing did not show (report listing_agreement).
-- sync_runs also has detect, listing_status, listing_error and the comparisons.
-- Parameters: limit (default 10)
-- Run: psql -f queries/reports/recent_runs.sql
-- In a narrow table, left out first: pages, details, vouched, missed, gone, changes
\if :{?limit} \else \set limit 10 \endif
SELECT run_id,
       status,
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI"Z"') AS started,
       round(extract(epoch FROM finished_at - started_at), 1) AS secs,
       devices_total     AS total,
       devices_ok        AS ok,
       devices_changed   AS changed,
       devices_not_found AS gone,
       devices_failed    AS failed,
       changes_recorded  AS changes,
       devices_confirmed AS vouched,
       listing_requests  AS pages,
       details_requests  AS details,
       missed_changes    AS missed,
       error
FROM sync_runs
ORDER BY run_id DESC
LIMIT :'limit'::int;
