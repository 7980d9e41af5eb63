-- The IDs merged into one device: other spellings of its ID once tracked beside it (device_id_merges), whose history device_timeline includes.
-- Parameters: device_id (required)
-- Run: psql -v device_id=Y2lzY29... -f queries/reports/device_merges.sql
SELECT m.merged_id,
       m.merged_at,
       (SELECT count(*) FROM device_changes c WHERE c.device_id = m.merged_id) AS history_rows
FROM device_id_merges m
WHERE m.kept_id = :'device_id'
ORDER BY m.merged_at, m.merged_id;
