-- One device's full history: every change of activation state, IP and MAC,
-- oldest first, with the run that saw it. Rows recorded under another
-- spelling of the same device's ID, merged into this one
-- (device_id_merges), are included, with the ID they were recorded under.
-- Parameters: device_id (required)
-- Run: psql -v device_id=Y2lzY29... -f queries/reports/device_timeline.sql
SELECT c.changed_at,
       c.field,
       c.old_value,
       c.new_value,
       c.run_id,
       c.device_id AS recorded_as
FROM device_changes c
WHERE c.device_id = :'device_id'
   OR c.device_id IN (SELECT merged_id FROM device_id_merges WHERE kept_id = :'device_id')
ORDER BY c.changed_at, c.change_id;
