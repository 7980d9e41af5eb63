-- The latest device discoveries (wxc-sync discover): what each listed, added and removed.
-- Parameters: limit (default 10)
-- Run: psql -f queries/reports/recent_discoveries.sql
\if :{?limit} \else \set limit 10 \endif
SELECT discovery_id,
       status,
       started_at,
       finished_at - started_at AS duration,
       dry_run,
       prune,
       pages,
       devices_listed,
       calling_listed,
       rejected,
       added,
       unlisted,
       removed,
       error
FROM discovery_runs
ORDER BY discovery_id DESC
LIMIT :'limit'::int;
