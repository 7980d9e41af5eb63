-- +goose Up
-- What a history row costs to write (issue 18: the first sync writes 2.4
-- rows a device, and was bound by PostgreSQL's CPU for them).
--
-- device_changes_device_idx (device_id, changed_at) is served by
-- device_changes_device_field_time_idx (device_id, field, changed_at,
-- change_id), whose leading column is the same: a device's timeline reads
-- that one and sorts its few rows. One index fewer to insert into for
-- every row.
DROP INDEX device_changes_device_idx;

-- The history does not depend on the runs table, as it does not depend on
-- devices: a row's run_id says which run noticed the change, written by
-- that run from its own sync_runs row, and the history survives a cleanup
-- of old runs. The foreign key cost a look-up and a row lock on the run's
-- sync_runs row for every history row (the run's counters are updated in
-- the same statement).
ALTER TABLE device_changes DROP CONSTRAINT device_changes_run_id_fkey;

COMMENT ON COLUMN device_changes.run_id IS 'The sync run that noticed the change (sync_runs.run_id). Not a foreign key: history survives the deletion of its run, as of its device.';

-- +goose Down
CREATE INDEX device_changes_device_idx ON device_changes (device_id, changed_at);
ALTER TABLE device_changes ADD CONSTRAINT device_changes_run_id_fkey FOREIGN KEY (run_id) REFERENCES sync_runs (run_id);
COMMENT ON COLUMN device_changes.run_id IS NULL;
