-- One device's full history: every change of activation state, IP and MAC,
-- oldest first, with the run that saw it and the window it happened in:
-- after old_value_seen_at (the last time the job saw the old value, from
-- the details or a trusted listing) and at or before changed_at (when the
-- job noticed the new one). old_value_seen_at is empty for a first sync
-- (no earlier value was seen) and for rows recorded before change windows
-- existed. Rows recorded under another spelling of the same device's ID,
-- merged into this one (device_id_merges), are included, with the ID they
-- were recorded under.
-- Parameters: device_id (required)
-- Run: psql -v device_id=Y2lzY29... -f queries/reports/device_timeline.sql
-- In a narrow table, left out first: run_id, recorded_as
SELECT c.old_value_seen_at,
       c.changed_at,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id,
       c.device_id AS recorded_as
FROM device_changes c
WHERE c.device_id = :'device_id'
   OR c.device_id IN (SELECT merged_id FROM device_id_merges WHERE kept_id = :'device_id')
ORDER BY c.changed_at, c.change_id;
