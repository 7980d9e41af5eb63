-- The latest device discoveries (wxc-sync discover): what each listed (calling:
-- the calling devices among them), added and removed; mode is dry-run and/or prune.
-- Parameters: limit (default 10)
-- Run: psql -f queries/reports/recent_discoveries.sql
\if :{?limit} \else \set limit 10 \endif
SELECT discovery_id,
       status,
       started_at,
       finished_at - started_at AS duration,
       concat_ws(' ', CASE WHEN dry_run THEN 'dry-run' END, CASE WHEN prune THEN 'prune' END) AS mode,
       pages,
       devices_listed AS listed,
       calling_listed AS calling,
       rejected,
       added,
       unlisted,
       removed,
       error
FROM discovery_runs
ORDER BY discovery_id DESC
LIMIT :'limit'::int;
